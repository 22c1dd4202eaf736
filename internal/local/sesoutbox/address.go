package sesoutbox

import (
	"net/mail"
	"strings"
)

// parseAddress parses one address as SES takes it: an optional display name (UTF-8 or an RFC
// 2047 encoded word) and a 7-bit addr-spec, since SES supports no SMTPUTF8 and wants Punycode
// domains.
func parseAddress(field, s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, badRequest("Illegal address in %s: %v", field, err)
	}
	for _, r := range a.Address {
		if r > 0x7e {
			return nil, badRequest("Illegal address in %s: the address must be 7-bit ASCII", field)
		}
	}
	return a, nil
}

// validateAddresses checks the sender and recipients before the message counts as accepted.
func validateAddresses(msg Message) error {
	if msg.From == "" {
		return badRequest("Missing FromEmailAddress")
	}
	if len(msg.To)+len(msg.Cc)+len(msg.Bcc) == 0 {
		return badRequest("Missing final destination: Destination needs at least one address")
	}
	lists := []struct {
		field string
		addrs []string
	}{
		{"FromEmailAddress", []string{msg.From}},
		{"ToAddresses", msg.To},
		{"CcAddresses", msg.Cc},
		{"BccAddresses", msg.Bcc},
		{"ReplyToAddresses", msg.ReplyTo},
	}
	for _, l := range lists {
		for _, s := range l.addrs {
			if _, err := parseAddress(l.field, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// formatAddresses renders addresses for a header: mail.Address encodes non-ASCII display names
// and quotes specials, so nothing a sender typed can break the header.
func formatAddresses(addrs []string) (string, error) {
	out := make([]string, len(addrs))
	for i, s := range addrs {
		a, err := parseAddress("header", s)
		if err != nil {
			return "", err
		}
		out[i] = a.String()
	}
	return strings.Join(out, ", "), nil
}
