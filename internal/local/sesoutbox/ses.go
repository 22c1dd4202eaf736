package sesoutbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// maxRequestBytes is SES v2's limit on a whole message, which bounds what one request can make
// the Outbox hold.
const maxRequestBytes = 40 << 20

// apiError is an SES error as the SDK decodes it: the code from the X-Amzn-ErrorType header
// (it wins over the body), the message from the body's "message".
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "BadRequestException", fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{http.StatusNotFound, "NotFoundException", fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{http.StatusInternalServerError, "InternalFailure", err.Error()}
	}
	w.Header().Set("X-Amzn-ErrorType", e.code)
	writeJSON(w, e.status, map[string]string{"message": e.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	// The SDK reports this id with every result and error, as it does for real SES.
	w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeRequest reads a JSON request body. Fields the Outbox does not use are ignored, as the
// SDK may send any member of the operation's input.
func decodeRequest(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return badRequest("request body is not a valid JSON object: %v", err)
	}
	return nil
}

func unknownOperation(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{http.StatusNotFound, "UnknownOperationException",
		fmt.Sprintf("the local SES outbox does not implement %s %s", r.Method, r.URL.Path)})
}

// sendEmailRequest is SendEmail's JSON body; member names are the SDK's.
type sendEmailRequest struct {
	FromEmailAddress string
	Destination      struct {
		ToAddresses, CcAddresses, BccAddresses []string
	}
	ReplyToAddresses     []string
	ConfigurationSetName string
	Content              struct {
		Simple *struct {
			Subject     *content
			Body        *struct{ Text, Html *content }
			Headers     []json.RawMessage
			Attachments []json.RawMessage
		}
		Raw      *struct{ Data []byte } // base64 on the wire, which encoding/json decodes
		Template *struct{}
	}
}

// content is an SES text. Its Charset is not read: JSON strings are Unicode whatever it says,
// so Data arrives decoded already, and the .eml is always written as UTF-8.
type content struct {
	Data string
}

func (o *Outbox) sendEmail(w http.ResponseWriter, r *http.Request) {
	var req sendEmailRequest
	if err := decodeRequest(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	msg, raw, err := req.message()
	if err == nil {
		err = o.checkSender(msg.From)
	}
	if err == nil {
		msg, err = o.deliver(msg, raw)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"MessageId": msg.ID})
}

// message validates the request as SES does and returns the message it describes, with the
// raw MIME message when the content is Raw.
func (req *sendEmailRequest) message() (Message, []byte, error) {
	c := req.Content
	var (
		msg Message
		raw []byte
		err error
	)
	switch {
	case c.Template != nil || (c.Simple != nil && (len(c.Simple.Headers) > 0 || len(c.Simple.Attachments) > 0)):
		// Accepting these and dropping them would show a message that is not what SES sends.
		return Message{}, nil, badRequest("the local SES outbox does not support templates, custom headers or attachments")
	case c.Simple != nil:
		msg, err = simpleMessage(c.Simple.Subject, c.Simple.Body)
	case c.Raw != nil:
		raw = c.Raw.Data
		msg, err = rawMessage(raw)
	default:
		return Message{}, nil, badRequest("Content needs Simple, Raw or Template content")
	}
	if err != nil {
		return Message{}, nil, err
	}
	req.addEnvelope(&msg)
	return msg, raw, validateAddresses(msg)
}

// addEnvelope lets the request's addresses override the raw message's headers, as SES does.
func (req *sendEmailRequest) addEnvelope(msg *Message) {
	d := req.Destination
	if req.FromEmailAddress != "" {
		msg.From = req.FromEmailAddress
	}
	if len(d.ToAddresses)+len(d.CcAddresses)+len(d.BccAddresses) > 0 {
		msg.To, msg.Cc, msg.Bcc = d.ToAddresses, d.CcAddresses, d.BccAddresses
	}
	if req.ReplyToAddresses != nil {
		msg.ReplyTo = req.ReplyToAddresses
	}
	msg.ConfigurationSet = req.ConfigurationSetName
}

func simpleMessage(subject *content, body *struct{ Text, Html *content }) (Message, error) {
	if subject == nil {
		return Message{}, badRequest("Simple content needs a Subject")
	}
	if body == nil || (body.Text == nil && body.Html == nil) {
		return Message{}, badRequest("Simple content needs a Body with Text, Html or both")
	}
	msg := Message{Subject: subject.Data}
	if body.Text != nil {
		msg.Text = body.Text.Data
	}
	if body.Html != nil {
		msg.HTML = body.Html.Data
	}
	return msg, nil
}

// deliver assigns the message its id and time, writes its .eml and keeps it. The file comes
// first so that a message SES reported as sent is always on disk.
func (o *Outbox) deliver(msg Message, raw []byte) (Message, error) {
	now := time.Now().UTC()
	msg.ID = fmt.Sprintf("%016x-%s-000000", now.UnixMilli(), uuid.NewString()) // SES's id format
	msg.SentAt = now
	eml := raw
	if eml == nil {
		var err error
		if eml, err = buildEML(msg); err != nil {
			return Message{}, err
		}
	}
	if o.dir != "" {
		var err error
		if msg.File, err = writeEML(o.dir, msg, eml); err != nil {
			return Message{}, err
		}
	}
	o.keep(record{msg: msg, recipients: recipients(msg), eml: eml})
	return msg, nil
}

func recipients(msg Message) []string {
	var out []string
	for _, list := range [][]string{msg.To, msg.Cc, msg.Bcc} {
		for _, a := range list {
			out = append(out, bareAddress(a))
		}
	}
	return out
}
