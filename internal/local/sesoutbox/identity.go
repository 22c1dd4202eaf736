package sesoutbox

import (
	"net/http"
	"strings"
)

// SES's IdentityType values.
const (
	identityEmail  = "EMAIL_ADDRESS"
	identityDomain = "DOMAIN"
)

// identity is a created sender identity. Creating one verifies it at once: there is no inbox
// for SES's confirmation mail and no DNS for DKIM records.
type identity struct {
	kind             string
	tags             []tag
	configurationSet string
}

type tag struct {
	Key   string
	Value string
}

type createIdentityRequest struct {
	EmailIdentity        string
	Tags                 []tag
	ConfigurationSetName string
}

// dkimAttributes is the part of SES's DkimAttributes callers look at.
type dkimAttributes struct {
	SigningEnabled          bool
	Status                  string
	SigningAttributesOrigin string `json:",omitempty"`
}

// dkim says what SES reports once an identity is verified: Easy DKIM signs for domains, while
// an address on an unverified domain is not signed.
func (id identity) dkim() dkimAttributes {
	if id.kind == identityDomain {
		return dkimAttributes{SigningEnabled: true, Status: "SUCCESS", SigningAttributesOrigin: "AWS_SES"}
	}
	return dkimAttributes{Status: "NOT_STARTED"}
}

func (o *Outbox) createEmailIdentity(w http.ResponseWriter, r *http.Request) {
	var req createIdentityRequest
	if err := decodeRequest(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	kind, err := identityKind(req.EmailIdentity)
	if err != nil {
		writeError(w, err)
		return
	}
	id := identity{kind: kind, tags: req.Tags, configurationSet: req.ConfigurationSetName}
	if !o.addIdentity(req.EmailIdentity, id) {
		writeError(w, &apiError{http.StatusBadRequest, "AlreadyExistsException", "Email identity " + req.EmailIdentity + " already exists."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"IdentityType":             kind,
		"VerifiedForSendingStatus": true,
		"DkimAttributes":           id.dkim(),
	})
}

func (o *Outbox) getEmailIdentity(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("EmailIdentity")
	id, ok := o.identity(name)
	if !ok {
		writeError(w, notFound("Email identity %s does not exist.", name))
		return
	}
	resp := map[string]any{
		"IdentityType":             id.kind,
		"VerifiedForSendingStatus": true,
		"VerificationStatus":       "SUCCESS",
		"FeedbackForwardingStatus": true,
		"DkimAttributes":           id.dkim(),
		"Policies":                 map[string]string{},
		"Tags":                     append([]tag{}, id.tags...), // [] rather than null, as SES answers
	}
	if id.configurationSet != "" {
		resp["ConfigurationSetName"] = id.configurationSet
	}
	writeJSON(w, http.StatusOK, resp)
}

// deleteEmailIdentity is there because tests written against SES clean up their identities.
func (o *Outbox) deleteEmailIdentity(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("EmailIdentity")
	if !o.removeIdentity(name) {
		writeError(w, notFound("Email identity %s does not exist.", name))
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (o *Outbox) addIdentity(name string, id identity) (added bool) {
	key := strings.ToLower(name)
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, exists := o.identities[key]; exists {
		return false
	}
	o.identities[key] = id
	return true
}

func (o *Outbox) removeIdentity(name string) (removed bool) {
	key := strings.ToLower(name)
	o.mu.Lock()
	defer o.mu.Unlock()
	_, removed = o.identities[key]
	delete(o.identities, key)
	return removed
}

func (o *Outbox) identity(name string) (identity, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	id, ok := o.identities[strings.ToLower(name)]
	return id, ok
}

// identityKind tells an address from a domain the way SES does, by the "@".
func identityKind(name string) (string, error) {
	if name == "" {
		return "", badRequest("Missing EmailIdentity")
	}
	if !strings.Contains(name, "@") {
		if !validDomain(name) {
			return "", badRequest("Invalid domain name %s", name)
		}
		return identityDomain, nil
	}
	a, err := parseAddress("EmailIdentity", name)
	if err != nil {
		return "", err
	}
	if a.Name != "" || a.Address != name {
		return "", badRequest("Invalid email address %s: EmailIdentity takes a bare address", name)
	}
	return identityEmail, nil
}

func validDomain(name string) bool {
	if len(name) > 253 || !strings.Contains(name, ".") {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// checkSender rejects a From address that is neither a created identity nor on a created domain
// (or a parent of its domain, which SES also accepts), with SES's MessageRejected.
func (o *Outbox) checkSender(from string) error {
	if o.autoVerify {
		return nil
	}
	addr := bareAddress(from)
	o.mu.RLock()
	defer o.mu.RUnlock()
	if _, ok := o.identities[addr]; ok {
		return nil
	}
	_, domain, _ := strings.Cut(addr, "@")
	for d := domain; d != ""; {
		if id, ok := o.identities[d]; ok && id.kind == identityDomain {
			return nil
		}
		_, d, _ = strings.Cut(d, ".")
	}
	return &apiError{http.StatusBadRequest, "MessageRejected",
		"Email address is not verified. The following identities failed the check in region LOCAL: " + addr}
}
