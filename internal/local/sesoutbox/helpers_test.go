package sesoutbox

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// fixture is an Outbox behind a real HTTP server, with the real SES v2 client pointed at it,
// as the dev stack wires them.
type fixture struct {
	outbox *Outbox
	client *sesv2.Client
	url    string
	dir    string
}

// newFixture stores mail two directories below a fresh temporary one, so New must create them.
func newFixture(t *testing.T, opts ...Option) fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "var", "mail")
	return newFixtureIn(t, dir, opts...)
}

func newFixtureIn(t *testing.T, dir string, opts ...Option) fixture {
	t.Helper()
	o, err := New(dir, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	client := sesv2.New(sesv2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
	})
	return fixture{outbox: o, client: client, url: srv.URL, dir: dir}
}

func (f fixture) createIdentity(t *testing.T, name string) {
	t.Helper()
	if _, err := f.client.CreateEmailIdentity(t.Context(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(name)}); err != nil {
		t.Fatalf("CreateEmailIdentity(%s): %v", name, err)
	}
}

// sent is what a test sends; simpleInput turns it into the SDK input the project's Sender builds.
type sent struct {
	from, subject, text, html, configurationSet string
	to, cc, bcc                                 []string
}

func (s sent) simpleInput() *sesv2.SendEmailInput {
	body := &types.Body{}
	if s.text != "" {
		body.Text = &types.Content{Data: aws.String(s.text), Charset: aws.String("UTF-8")}
	}
	if s.html != "" {
		body.Html = &types.Content{Data: aws.String(s.html), Charset: aws.String("UTF-8")}
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: s.to, CcAddresses: s.cc, BccAddresses: s.bcc},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(s.subject), Charset: aws.String("UTF-8")},
			Body:    body,
		}},
	}
	if s.configurationSet != "" {
		in.ConfigurationSetName = aws.String(s.configurationSet)
	}
	return in
}

func (f fixture) send(t *testing.T, s sent) string {
	t.Helper()
	out, err := f.client.SendEmail(t.Context(), s.simpleInput())
	if err != nil {
		t.Fatalf("SendEmail: %v", err)
	}
	return aws.ToString(out.MessageId)
}

// parsedEML is an .eml read back with the standard library only, independently of how the
// Outbox writes it.
type parsedEML struct {
	header     mail.Header
	subject    string
	text, html string
	textType   string // the text/plain part's Content-Type
	htmlType   string
}

func parseEML(t *testing.T, data []byte) parsedEML {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("net/mail cannot read the .eml: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode Subject %q: %v", m.Header.Get("Subject"), err)
	}
	p := parsedEML{header: m.Header, subject: subject}
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		p.add(t, mediaType, m.Header.Get("Content-Type"), decodedBody(t, m.Header.Get("Content-Transfer-Encoding"), m.Body))
		return p
	}
	if mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %s, want multipart/alternative", mediaType)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable itself
		if err == io.EOF {
			return p
		}
		if err != nil {
			t.Fatalf("read MIME part: %v", err)
		}
		ct := part.Header.Get("Content-Type")
		partType, _, _ := mime.ParseMediaType(ct)
		p.add(t, partType, ct, decodedBody(t, part.Header.Get("Content-Transfer-Encoding"), part))
	}
}

// add keeps a decoded part. MIME carries text with CRLF line breaks whatever was sent, so the
// comparison is on LF.
func (p *parsedEML) add(t *testing.T, mediaType, contentType, body string) {
	t.Helper()
	body = strings.ReplaceAll(body, "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		p.text, p.textType = body, contentType
	case "text/html":
		p.html, p.htmlType = body, contentType
	default:
		t.Errorf("unexpected part %s", contentType)
	}
}

func decodedBody(t *testing.T, encoding string, r io.Reader) string {
	t.Helper()
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		t.Fatalf("unexpected base64 part") // the Outbox writes quoted-printable
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}
