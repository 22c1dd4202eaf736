// Package sesoutbox is a local stand-in for the Amazon SES v2 API: the real sesv2 client, pointed
// at it with BaseEndpoint, sends mail into a browsable outbox and .eml files instead of anyone's
// mailbox, so the dev stack needs neither an AWS account nor an AWS API emulator.
package sesoutbox

import (
	"fmt"
	"net/http"
	"net/mail"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// defaultLimit bounds memory in a long-running dev stack; the .eml files are never removed.
const defaultLimit = 1000

// Outbox is an http.Handler that answers the SES v2 operations the project uses and shows what
// was sent. It is safe for concurrent use.
type Outbox struct {
	dir        string
	autoVerify bool
	limit      int
	mux        *http.ServeMux

	mu         sync.RWMutex
	identities map[string]identity // keyed by lower-cased name, as SES matches them
	records    []record            // oldest first
}

// Option configures an Outbox.
type Option func(*Outbox)

// WithAutoVerify lets any sender through, as if its identity had been created and confirmed,
// so the dev stack needs no CreateEmailIdentity step. Without it, SendEmail from an address
// whose identity (or domain) was never created fails with MessageRejected, as SES does: the
// mistake then shows up locally rather than in the first deployed environment.
func WithAutoVerify() Option {
	return func(o *Outbox) { o.autoVerify = true }
}

// WithLimit keeps the newest n messages in memory (default 1,000); older ones stay only as
// .eml files, when there is a directory.
func WithLimit(n int) Option {
	return func(o *Outbox) {
		if n > 0 {
			o.limit = n
		}
	}
}

// New returns an Outbox that writes each accepted message to dir as an .eml file, creating dir
// when missing; an empty dir keeps messages in memory only.
func New(dir string, opts ...Option) (*Outbox, error) {
	if dir != "" {
		// Owner-only: the files hold personal data and live activation links.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sesoutbox: create message directory: %w", err)
		}
	}
	o := &Outbox{dir: dir, limit: defaultLimit, identities: map[string]identity{}}
	for _, opt := range opts {
		opt(o)
	}
	o.mux = o.routes()
	return o, nil
}

// ServeHTTP answers the SES v2 REST-JSON API under /v2/email/ and the viewer under /outbox.
// Requests are not authenticated: SigV4 signatures are accepted unchecked, so an Outbox must
// only ever listen on a loopback address.
func (o *Outbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mux.ServeHTTP(w, r)
}

func (o *Outbox) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/email/outbound-emails", o.sendEmail)
	mux.HandleFunc("POST /v2/email/identities", o.createEmailIdentity)
	mux.HandleFunc("GET /v2/email/identities/{EmailIdentity}", o.getEmailIdentity)
	mux.HandleFunc("DELETE /v2/email/identities/{EmailIdentity}", o.deleteEmailIdentity)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "outbox", http.StatusFound)
	})
	mux.HandleFunc("GET /outbox", o.listPage)
	mux.HandleFunc("GET /outbox/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "../outbox", http.StatusFound)
	})
	mux.HandleFunc("GET /outbox/messages.json", o.listJSON)
	mux.HandleFunc("GET /outbox/messages/{id}", o.messagePage)
	// The catch-all also keeps ServeMux from answering a wrong method with its own plain-text
	// 405, which the SDK could not decode.
	mux.HandleFunc("/", unknownOperation)
	return mux
}

// Message is one accepted e-mail. Addresses are as the sender gave them, display names included.
type Message struct {
	ID               string    `json:"id"`
	From             string    `json:"from"`
	To               []string  `json:"to"`
	Cc               []string  `json:"cc,omitempty"`
	Bcc              []string  `json:"bcc,omitempty"`
	ReplyTo          []string  `json:"replyTo,omitempty"`
	Subject          string    `json:"subject"`
	Text             string    `json:"text"`
	HTML             string    `json:"html"`
	ConfigurationSet string    `json:"configurationSet,omitempty"`
	SentAt           time.Time `json:"sentAt"`
	// File is the .eml's path, empty when the Outbox keeps messages in memory only.
	File string `json:"file,omitempty"`
}

// clone keeps callers from changing the Outbox's copy through the shared slices.
func (m Message) clone() Message {
	m.To, m.Cc, m.Bcc, m.ReplyTo = slices.Clone(m.To), slices.Clone(m.Cc), slices.Clone(m.Bcc), slices.Clone(m.ReplyTo)
	return m
}

// record is a kept message with what the Outbox needs to find and serve it.
type record struct {
	msg        Message
	recipients []string // bare, lower-cased addresses of To, Cc and Bcc
	eml        []byte
}

// Messages returns the messages kept in memory, newest first.
func (o *Outbox) Messages() []Message {
	return o.filter(func(record) bool { return true })
}

// SentTo returns the kept messages with addr among their To, Cc or Bcc recipients, newest first.
// Addresses compare without display names and case-insensitively.
func (o *Outbox) SentTo(addr string) []Message {
	want := bareAddress(addr)
	return o.filter(func(r record) bool { return slices.Contains(r.recipients, want) })
}

func (o *Outbox) filter(keep func(record) bool) []Message {
	o.mu.RLock()
	defer o.mu.RUnlock()
	var out []Message
	for _, r := range slices.Backward(o.records) {
		if keep(r) {
			out = append(out, r.msg.clone())
		}
	}
	return out
}

func (o *Outbox) find(id string) (record, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, r := range o.records {
		if r.msg.ID == id {
			return r, true
		}
	}
	return record{}, false
}

func (o *Outbox) keep(r record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.records = append(o.records, r)
	if extra := len(o.records) - o.limit; extra > 0 {
		// Delete clears the vacated slots, so dropped messages are really freed.
		o.records = slices.Delete(o.records, 0, extra)
	}
}

// bareAddress reduces "Name <local@domain>" to "local@domain", lower-cased; what does not
// parse is compared as it is.
func bareAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		s = a.Address
	}
	return strings.ToLower(strings.TrimSpace(s))
}
