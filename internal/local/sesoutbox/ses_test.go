package sesoutbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/fault"
)

const (
	evilHTML = `<p>Hallo Zoë,</p><script>alert("xss")</script>` +
		`<p><a href="https://app.example/activate?token=abc&amp;tenant=s%C3%BCd">Zugang aktivieren</a></p>`
	longText = "Hallo Zoë Müller,\n\nIhr Zugang für «Klinik Süd» ist bereit. Aktivieren Sie ihn innerhalb von 48 Stunden hier:\n" +
		"https://app.example/activate?token=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n" +
		"Eine Zeile mit Leerzeichen am Ende   \n\nIhr Team ✓\n"
)

func TestSendEmail(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		identity string
		msg      sent
	}{
		{
			name:     "text and HTML with non-ASCII subject and names",
			identity: "gesundheit.example",
			msg: sent{
				from:    "=?UTF-8?Q?Gesundheitsamt_M=C3=BCnchen?= <no-reply@gesundheit.example>",
				to:      []string{"Zoë Müller <zoe@klinik.example>"},
				subject: "Willkommen, Zoë – Ihr Zugang zu «Klinik Süd» ist bereit ✓ (bitte innerhalb von 48 Stunden aktivieren)",
				text:    longText,
				html:    evilHTML,
			},
		},
		{
			name:     "text only, address identity, configuration set",
			identity: "no-reply@klinik.example",
			msg: sent{
				from:             "no-reply@klinik.example",
				to:               []string{"ops@klinik.example"},
				subject:          "Provisioning failed",
				text:             "Step CreateSchema failed.\n",
				configurationSet: "tenant-mail",
			},
		},
		{
			name:     "HTML only, sender on a subdomain of the identity",
			identity: "example.org",
			msg: sent{
				from:    "Ops <no-reply@mail.eu.example.org>",
				to:      []string{"admin@hospital.example"},
				subject: "Hello",
				html:    "<p>rich</p>",
			},
		},
		{
			name:     "Cc and Bcc",
			identity: "example.net",
			msg: sent{
				from:    "no-reply@example.net",
				to:      []string{"a@example.com", `"Doe, Jane" <jane@example.com>`},
				cc:      []string{"c@example.com"},
				bcc:     []string{"audit@example.com"},
				subject: "Copies",
				text:    "plain",
				html:    "<p>rich</p>",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.createIdentity(t, c.identity)
			before := time.Now().UTC()
			id := f.send(t, c.msg)

			msgs := f.outbox.Messages()
			if len(msgs) != 1 {
				t.Fatalf("Messages() holds %d, want 1", len(msgs))
			}
			got := msgs[0]
			want := Message{
				ID: id, From: c.msg.from, To: c.msg.to, Cc: c.msg.cc, Bcc: c.msg.bcc,
				Subject: c.msg.subject, Text: c.msg.text, HTML: c.msg.html,
				ConfigurationSet: c.msg.configurationSet, SentAt: got.SentAt, File: got.File,
			}
			if !equalMessages(got, want) {
				t.Errorf("kept message\n got %+v\nwant %+v", got, want)
			}
			if got.SentAt.Before(before.Add(-time.Second)) || got.SentAt.After(time.Now().Add(time.Second)) {
				t.Errorf("SentAt = %v, not the time of sending", got.SentAt)
			}
			for _, rcpt := range slices.Concat(c.msg.to, c.msg.cc, c.msg.bcc) {
				if s := f.outbox.SentTo(strings.ToUpper(bareAddress(rcpt))); len(s) != 1 || s[0].ID != id {
					t.Errorf("SentTo(%s) = %v", rcpt, s)
				}
			}
			checkEMLFile(t, f.dir, got, c.msg)
		})
	}
}

// equalMessages compares Messages, treating nil and empty lists alike.
func equalMessages(a, b Message) bool {
	norm := func(m Message) string {
		m.SentAt = m.SentAt.UTC()
		for _, l := range []*[]string{&m.To, &m.Cc, &m.Bcc, &m.ReplyTo} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		j, _ := json.Marshal(m)
		return string(j)
	}
	return norm(a) == norm(b)
}

func checkEMLFile(t *testing.T, dir string, got Message, s sent) {
	t.Helper()
	if filepath.Dir(got.File) != dir || !strings.HasSuffix(got.File, "-"+got.ID+".eml") {
		t.Errorf("File = %s, want <time>-%s.eml in %s", got.File, got.ID, dir)
	}
	info, err := os.Stat(got.File)
	if err != nil {
		t.Fatalf("stat .eml: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf(".eml mode = %v, want 0600", perm)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("message directory: %v, %v; want created with mode 0700", info.Mode(), err)
	}
	data, err := os.ReadFile(got.File)
	if err != nil {
		t.Fatal(err)
	}
	checkEML(t, data, got, s)
}

func checkEML(t *testing.T, data []byte, got Message, s sent) {
	t.Helper()
	for i, b := range data {
		if b > 0x7e || (b < ' ' && b != '\r' && b != '\n' && b != '\t') {
			t.Fatalf(".eml byte %d is %#x: the file should be 7-bit, everything else encoded", i, b)
		}
	}
	for _, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 998 {
			t.Errorf(".eml line is %d characters, over RFC 5322's 998", len(line))
		}
	}
	p := parseEML(t, data)
	if p.subject != s.subject {
		t.Errorf("Subject = %q, want %q", p.subject, s.subject)
	}
	checkAddresses(t, p.header, "From", []string{s.from})
	checkAddresses(t, p.header, "To", s.to)
	if len(s.cc) > 0 {
		checkAddresses(t, p.header, "Cc", s.cc)
	}
	if b := p.header.Get("Bcc"); b != "" {
		t.Errorf("Bcc header %q: blind copies must not show", b)
	}
	if v := p.header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	if v := p.header.Get("Message-ID"); !strings.HasPrefix(v, "<"+got.ID+"@") || !strings.HasSuffix(v, ">") {
		t.Errorf("Message-ID = %q, want <%s@…>", v, got.ID)
	}
	if d, err := p.header.Date(); err != nil || d.Unix() != got.SentAt.Unix() {
		t.Errorf("Date = %v, %v; want %v", d, err, got.SentAt)
	}
	if p.text != s.text || p.html != s.html {
		t.Errorf("decoded parts\ntext %q\nhtml %q\nwant\ntext %q\nhtml %q", p.text, p.html, s.text, s.html)
	}
	for _, ct := range []string{p.textType, p.htmlType} {
		if ct != "" && !strings.Contains(strings.ToLower(ct), "charset=utf-8") {
			t.Errorf("part Content-Type %q is not UTF-8", ct)
		}
	}
}

func checkAddresses(t *testing.T, h mail.Header, name string, want []string) {
	t.Helper()
	got, err := h.AddressList(name)
	if err != nil {
		t.Fatalf("%s header %q: %v", name, h.Get(name), err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", name, got, want)
	}
	for i, w := range want {
		wa, err := mail.ParseAddress(w)
		if err != nil {
			t.Fatal(err)
		}
		if *got[i] != *wa {
			t.Errorf("%s[%d] = %+v, want %+v", name, i, *got[i], *wa)
		}
	}
}

func TestSendEmailRejects(t *testing.T) {
	t.Parallel()
	valid := sent{from: "no-reply@klinik.example", to: []string{"zoe@example.com"}, subject: "Hi", text: "plain"}
	cases := []struct {
		name     string
		identity string
		input    func() *sesv2.SendEmailInput
		code     string
		as       any // the SDK's typed error, when there is one
	}{
		{
			name:  "unverified sender",
			input: valid.simpleInput,
			code:  "MessageRejected", as: new(*types.MessageRejected),
		},
		{
			name:     "sender on a sibling of the verified domain",
			identity: "mail.klinik.example",
			input:    valid.simpleInput,
			code:     "MessageRejected", as: new(*types.MessageRejected),
		},
		{
			name:     "no recipients",
			identity: "klinik.example",
			input:    changed(valid.simpleInput, func(in *sesv2.SendEmailInput) { in.Destination = nil }),
			code:     "BadRequestException", as: new(*types.BadRequestException),
		},
		{
			name:     "no sender",
			identity: "klinik.example",
			input:    changed(valid.simpleInput, func(in *sesv2.SendEmailInput) { in.FromEmailAddress = nil }),
			code:     "BadRequestException", as: new(*types.BadRequestException),
		},
		{
			name:     "no content",
			identity: "klinik.example",
			input:    changed(valid.simpleInput, func(in *sesv2.SendEmailInput) { in.Content = &types.EmailContent{} }),
			code:     "BadRequestException", as: new(*types.BadRequestException),
		},
		{
			name:     "template content",
			identity: "klinik.example",
			input: changed(valid.simpleInput, func(in *sesv2.SendEmailInput) {
				in.Content = &types.EmailContent{Template: &types.Template{TemplateName: aws.String("welcome")}}
			}),
			code: "BadRequestException", as: new(*types.BadRequestException),
		},
		{
			name:     "attachment",
			identity: "klinik.example",
			input: changed(valid.simpleInput, func(in *sesv2.SendEmailInput) {
				in.Content.Simple.Attachments = []types.Attachment{{FileName: aws.String("a.txt"), RawContent: []byte("x")}}
			}),
			code: "BadRequestException", as: new(*types.BadRequestException),
		},
		{
			name:     "illegal recipient",
			identity: "klinik.example",
			input: changed(valid.simpleInput, func(in *sesv2.SendEmailInput) {
				in.Destination.ToAddresses = []string{"zoe@example.com\r\nBcc: victim@example.com"}
			}),
			code: "BadRequestException", as: new(*types.BadRequestException),
		},
		{
			name:     "non-ASCII local part",
			identity: "klinik.example",
			input:    changed(valid.simpleInput, func(in *sesv2.SendEmailInput) { in.Destination.ToAddresses = []string{"zoë@example.com"} }),
			code:     "BadRequestException", as: new(*types.BadRequestException),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := fixtureFor(t, c.identity)
			_, err := f.client.SendEmail(t.Context(), c.input())
			checkAPIError(t, err, c.code, http.StatusBadRequest)
			if !errors.As(err, c.as) {
				t.Errorf("error %T does not unwrap to %T", err, c.as)
			}
			if n := len(f.outbox.Messages()); n != 0 {
				t.Errorf("rejected message kept: %d in memory", n)
			}
			if files, _ := os.ReadDir(f.dir); len(files) != 0 {
				t.Errorf("rejected message written: %v", files)
			}
		})
	}
}

// checkAPIError checks an error the way the project's fault.FromAWS reads it.
func checkAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v (%T), want an API error %s", err, err, code)
	}
	if apiErr.ErrorCode() != code || apiErr.ErrorMessage() == "" {
		t.Errorf("error code %q message %q, want code %s and a message", apiErr.ErrorCode(), apiErr.ErrorMessage(), code)
	}
	var respErr *awshttp.ResponseError
	if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != status {
		t.Errorf("HTTP status of %v, want %d", err, status)
	} else if respErr.ServiceRequestID() == "" {
		t.Error("no request id")
	}
}

func TestAutoVerify(t *testing.T) {
	t.Parallel()
	f := newFixtureIn(t, "", WithAutoVerify())
	id := f.send(t, sent{from: "no-reply@anything.example", to: []string{"zoe@example.com"}, subject: "Hi", text: "plain"})
	msgs := f.outbox.Messages()
	if len(msgs) != 1 || msgs[0].ID != id {
		t.Fatalf("Messages() = %+v, want the one sent", msgs)
	}
	if msgs[0].File != "" {
		t.Errorf("File = %q, want none for an in-memory outbox", msgs[0].File)
	}
	if _, err := f.client.GetEmailIdentity(t.Context(), &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("anything.example")}); err == nil {
		t.Error("auto-verify created an identity; it should only let senders through")
	}
}

func TestEmailIdentities(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		create     string
		tags       []types.Tag
		lookup     string
		wantType   types.IdentityType
		wantSigned bool
	}{
		{name: "address", create: "no-reply@klinik.example", lookup: "no-reply@klinik.example", wantType: types.IdentityTypeEmailAddress},
		{name: "domain with tags", create: "klinik.example", tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}},
			lookup: "klinik.example", wantType: types.IdentityTypeDomain, wantSigned: true},
		// "+" and "/" must survive the SDK's label escaping; identities match case-insensitively.
		{name: "escaped label", create: "Dev+Ops/Team@Klinik.example", lookup: "dev+ops/team@klinik.example", wantType: types.IdentityTypeEmailAddress},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := t.Context()
			created, err := f.client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(c.create), Tags: c.tags})
			if err != nil {
				t.Fatalf("CreateEmailIdentity: %v", err)
			}
			if created.IdentityType != c.wantType || !created.VerifiedForSendingStatus {
				t.Errorf("created %s, verified %v; want %s, verified", created.IdentityType, created.VerifiedForSendingStatus, c.wantType)
			}
			got, err := f.client.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(c.lookup)})
			if err != nil {
				t.Fatalf("GetEmailIdentity: %v", err)
			}
			if got.IdentityType != c.wantType || !got.VerifiedForSendingStatus || got.VerificationStatus != types.VerificationStatusSuccess {
				t.Errorf("got %s, verified %v, status %s", got.IdentityType, got.VerifiedForSendingStatus, got.VerificationStatus)
			}
			if got.DkimAttributes == nil || got.DkimAttributes.SigningEnabled != c.wantSigned {
				t.Errorf("DkimAttributes = %+v, want signing %v", got.DkimAttributes, c.wantSigned)
			}
			if len(got.Tags) != len(c.tags) || (len(c.tags) > 0 && aws.ToString(got.Tags[0].Value) != aws.ToString(c.tags[0].Value)) {
				t.Errorf("Tags = %+v, want %+v", got.Tags, c.tags)
			}

			_, err = f.client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(c.lookup)})
			var exists *types.AlreadyExistsException
			if !errors.As(err, &exists) {
				t.Errorf("second CreateEmailIdentity: %v, want *types.AlreadyExistsException", err)
			}

			if _, err := f.client.DeleteEmailIdentity(ctx, &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String(c.create)}); err != nil {
				t.Fatalf("DeleteEmailIdentity: %v", err)
			}
			_, err = f.client.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(c.lookup)})
			var missing *types.NotFoundException
			if !errors.As(err, &missing) {
				t.Errorf("GetEmailIdentity after delete: %v, want *types.NotFoundException", err)
			}
			checkAPIError(t, err, "NotFoundException", http.StatusNotFound)
		})
	}
}

func TestCreateEmailIdentityRejects(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"not a domain", "localhost", "-bad.example", "Zoë <zoe@example.com>", "zoë@example.com"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			_, err := f.client.CreateEmailIdentity(t.Context(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(name)})
			checkAPIError(t, err, "BadRequestException", http.StatusBadRequest)
		})
	}
}

func TestUnknownOperation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.client.GetAccount(t.Context(), &sesv2.GetAccountInput{})
	checkAPIError(t, err, "UnknownOperationException", http.StatusNotFound)
}

// TestErrorWireFormat pins the error shape the SDK decodes: the code in X-Amzn-ErrorType, the
// text in a JSON "message".
func TestErrorWireFormat(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v2/email/outbound-emails", `{}`, http.StatusBadRequest, "BadRequestException"},
		{"POST", "/v2/email/outbound-emails", `{"Content":`, http.StatusBadRequest, "BadRequestException"},
		{"PUT", "/v2/email/outbound-emails", `{}`, http.StatusNotFound, "UnknownOperationException"},
		{"GET", "/v2/email/identities/nobody%40example.com", "", http.StatusNotFound, "NotFoundException"},
		{"GET", "/v2/email/templates", "", http.StatusNotFound, "UnknownOperationException"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+c.body, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), c.method, f.url+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("error body is not JSON: %v", err)
			}
			msg, _ := body["message"].(string)
			if resp.StatusCode != c.status || resp.Header.Get("X-Amzn-ErrorType") != c.code || msg == "" {
				t.Errorf("%d %q %v, want %d %s with a message", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body, c.status, c.code)
			}
		})
	}
}

// TestProjectSender sends through the project's own e-mail package, as the pipeline does.
func TestProjectSender(t *testing.T) {
	t.Parallel()
	const from = "Klinik Süd <no-reply@klinik.example>"
	cases := []struct {
		name     string
		identity string
		wantErr  bool
	}{
		{"verified sender", "klinik.example", false},
		{"unverified sender", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := fixtureFor(t, c.identity)
			m := email.Message{To: "zoe@hospital.example", Subject: "Willkommen bei Klinik Süd", Text: longText, HTML: evilHTML}
			id, err := email.NewSender(f.client, from, "tenant-mail").Send(t.Context(), m)
			if c.wantErr {
				var cfg *fault.ConfigError
				if !errors.As(err, &cfg) {
					t.Fatalf("Send = %q, %v; want a configuration error (MessageRejected)", id, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := f.outbox.SentTo(m.To)
			if len(got) != 1 || got[0].ID != id {
				t.Fatalf("SentTo = %+v, want the message %s", got, id)
			}
			if got[0].Subject != m.Subject || got[0].Text != m.Text || got[0].HTML != m.HTML || got[0].ConfigurationSet != "tenant-mail" {
				t.Errorf("kept %+v", got[0])
			}
			checkEMLFile(t, f.dir, got[0], sent{from: from, to: []string{m.To}, subject: m.Subject, text: m.Text, html: m.HTML})
		})
	}
}

func TestRawMessage(t *testing.T) {
	t.Parallel()
	raw := strings.ReplaceAll(`From: =?utf-8?q?Klinik_S=C3=BCd?= <no-reply@klinik.example>
To: Zoe <zoe@example.com>
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Gr=C3=BC=C3=9Fe
--b1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+R3LDvMOfZTwvcD4=
--b1--
`, "\n", "\r\n")
	f := newFixture(t)
	f.createIdentity(t, "klinik.example")
	out, err := f.client.SendEmail(t.Context(), &sesv2.SendEmailInput{
		Destination: &types.Destination{BccAddresses: []string{"audit@example.com"}},
		Content:     &types.EmailContent{Raw: &types.RawMessage{Data: []byte(raw)}},
	})
	if err != nil {
		t.Fatalf("SendEmail: %v", err)
	}
	got := f.outbox.Messages()
	if len(got) != 1 || got[0].ID != aws.ToString(out.MessageId) {
		t.Fatalf("Messages() = %+v", got)
	}
	m := got[0]
	if m.Subject != "Grüße" || m.Text != "Grüße" || m.HTML != "<p>Grüße</p>" || bareAddress(m.From) != "no-reply@klinik.example" {
		t.Errorf("kept %+v", m)
	}
	// Destination overrides the headers' recipients, as it does in SES.
	if len(m.To) != 0 || !slices.Equal(m.Bcc, []string{"audit@example.com"}) {
		t.Errorf("recipients To %v Bcc %v, want the Destination's", m.To, m.Bcc)
	}
	if data, err := os.ReadFile(m.File); err != nil || string(data) != raw {
		t.Errorf("stored raw message differs (%v):\n%s", err, data)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, WithAutoVerify(), WithLimit(3))
	var ids []string
	for i := range 5 {
		ids = append(ids, f.send(t, sent{from: "a@example.com", to: []string{"b@example.com"}, subject: fmt.Sprint(i), text: "x"}))
	}
	var kept []string
	for _, m := range f.outbox.Messages() {
		kept = append(kept, m.ID)
	}
	if want := []string{ids[4], ids[3], ids[2]}; !slices.Equal(kept, want) {
		t.Errorf("kept %v, want the newest three, newest first: %v", kept, want)
	}
	if files, _ := os.ReadDir(f.dir); len(files) != 5 {
		t.Errorf("%d files, want all 5 kept on disk", len(files))
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createIdentity(t, "klinik.example")
	const senders = 16
	var wg sync.WaitGroup
	ids := make([]string, senders)
	for i := range senders {
		wg.Go(func() {
			to := fmt.Sprintf("user%d@example.com", i)
			out, err := f.client.SendEmail(t.Context(), sent{from: "no-reply@klinik.example", to: []string{to}, subject: "Hi", text: "x"}.simpleInput())
			if err != nil {
				t.Errorf("SendEmail: %v", err)
				return
			}
			ids[i] = aws.ToString(out.MessageId)
			_ = f.outbox.SentTo(to)
		})
		wg.Go(func() {
			if resp, err := http.Get(f.url + "/outbox"); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	got := f.outbox.Messages()
	if len(got) != senders {
		t.Fatalf("%d messages, want %d", len(got), senders)
	}
	for i, id := range ids {
		if s := f.outbox.SentTo(fmt.Sprintf("user%d@example.com", i)); len(s) != 1 || s[0].ID != id {
			t.Errorf("user%d: %+v, want message %s", i, s, id)
		}
	}
}

// changed is input with change applied to each input it makes.
func changed(input func() *sesv2.SendEmailInput, change func(*sesv2.SendEmailInput)) func() *sesv2.SendEmailInput {
	return func() *sesv2.SendEmailInput {
		in := input()
		change(in)
		return in
	}
}

// fixtureFor is a fixture whose SES has verified identity, unless it is "".
func fixtureFor(t *testing.T, identity string) fixture {
	t.Helper()
	f := newFixture(t)
	if identity != "" {
		f.createIdentity(t, identity)
	}
	return f
}
