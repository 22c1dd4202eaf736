package sesoutbox

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// messageIDDomain makes Message-IDs globally unique the way SES's @email.amazonses.com does,
// without claiming to come from SES.
const messageIDDomain = "sesoutbox.localhost"

// maxLine is RFC 5322's recommended line length; headers fold to stay near it.
const maxLine = 78

// buildEML renders msg as RFC 5322 / MIME, in UTF-8 with quoted-printable bodies so the file
// stays readable in a text editor. Bcc is left out, as a delivered message would not show it.
func buildEML(msg Message) ([]byte, error) {
	var b bytes.Buffer
	if err := writeHeaders(&b, msg); err != nil {
		return nil, err
	}
	var err error
	switch {
	case msg.Text != "" && msg.HTML != "":
		err = writeAlternative(&b, msg.Text, msg.HTML)
	case msg.HTML != "":
		err = writeSinglePart(&b, "text/html", msg.HTML)
	default:
		err = writeSinglePart(&b, "text/plain", msg.Text)
	}
	if err != nil {
		return nil, fmt.Errorf("sesoutbox: render message: %w", err)
	}
	return b.Bytes(), nil
}

func writeHeaders(b *bytes.Buffer, msg Message) error {
	from, err := formatAddresses([]string{msg.From})
	if err != nil {
		return err
	}
	b.WriteString(fold("Date", msg.SentAt.Format(time.RFC1123Z)))
	b.WriteString(fold("Message-ID", "<"+msg.ID+"@"+messageIDDomain+">"))
	b.WriteString(fold("From", from))
	lists := []struct {
		name  string
		addrs []string
	}{{"To", msg.To}, {"Cc", msg.Cc}, {"Reply-To", msg.ReplyTo}}
	for _, l := range lists {
		if len(l.addrs) == 0 {
			continue
		}
		v, err := formatAddresses(l.addrs)
		if err != nil {
			return err
		}
		b.WriteString(fold(l.name, v))
	}
	// Q-encoding also encodes CR and LF, so a subject cannot add headers of its own.
	b.WriteString(fold("Subject", mime.QEncoding.Encode("utf-8", msg.Subject)))
	if msg.ConfigurationSet != "" {
		b.WriteString(fold("X-SES-Configuration-Set", mime.QEncoding.Encode("utf-8", msg.ConfigurationSet)))
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	return nil
}

// fold breaks a header line before spaces to keep it near maxLine. Unfolding (dropping the
// CRLFs) gives back the value exactly, and spaces between encoded words are not part of the
// decoded text, so any space is a safe break.
func fold(name, value string) string {
	words := strings.Split(value, " ")
	var b strings.Builder
	b.WriteString(name + ": " + words[0])
	n := b.Len()
	for _, w := range words[1:] {
		if n+1+len(w) > maxLine && w != "" {
			b.WriteString("\r\n")
			n = 0
		}
		b.WriteString(" " + w)
		n += 1 + len(w)
	}
	b.WriteString("\r\n")
	return b.String()
}

func partHeader(mediaType string) textproto.MIMEHeader {
	return textproto.MIMEHeader{
		"Content-Type":              {mime.FormatMediaType(mediaType, map[string]string{"charset": "utf-8"})},
		"Content-Transfer-Encoding": {"quoted-printable"},
	}
}

func writeSinglePart(b *bytes.Buffer, mediaType, body string) error {
	for k, v := range partHeader(mediaType) {
		b.WriteString(k + ": " + v[0] + "\r\n")
	}
	b.WriteString("\r\n")
	return writeQuotedPrintable(b, body)
}

// writeAlternative puts the HTML part last: multipart/alternative lists parts in increasing
// preference.
func writeAlternative(b *bytes.Buffer, text, html string) error {
	mw := multipart.NewWriter(b)
	ct := mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()})
	b.WriteString("Content-Type: " + ct + "\r\n\r\n")
	for _, p := range []struct{ mediaType, body string }{{"text/plain", text}, {"text/html", html}} {
		w, err := mw.CreatePart(partHeader(p.mediaType))
		if err != nil {
			return err
		}
		if err := writeQuotedPrintable(w, p.body); err != nil {
			return err
		}
	}
	return mw.Close()
}

func writeQuotedPrintable(w io.Writer, s string) error {
	qw := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qw, s); err != nil {
		return err
	}
	return qw.Close()
}

// writeEML stores one message as <time>-<id>.eml and returns its path. The file is created
// owner-only (0600) and never overwritten: it holds personal data and live activation links.
func writeEML(dir string, msg Message, eml []byte) (string, error) {
	name := msg.SentAt.Format("20060102T150405.000Z") + "-" + msg.ID + ".eml"
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("sesoutbox: store message: %w", err)
	}
	_, err = f.Write(eml)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("sesoutbox: store message: %w", err)
	}
	return path, nil
}

// rawMessage reads what the viewer shows from a Raw message; the message itself is stored as
// it came. Bodies are taken to be UTF-8, which is what the project sends.
func rawMessage(data []byte) (Message, error) {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Message{}, badRequest("Raw Data is not an RFC 5322 message: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		subject = m.Header.Get("Subject")
	}
	msg := Message{
		From:    m.Header.Get("From"),
		To:      headerAddresses(m.Header, "To"),
		Cc:      headerAddresses(m.Header, "Cc"),
		Bcc:     headerAddresses(m.Header, "Bcc"),
		ReplyTo: headerAddresses(m.Header, "Reply-To"),
		Subject: subject,
	}
	msg.Text, msg.HTML = bodies(textproto.MIMEHeader(m.Header), m.Body)
	return msg, nil
}

// headerAddresses returns a header's addresses; an unparseable list counts as none, which the
// recipient check then reports.
func headerAddresses(h mail.Header, name string) []string {
	list, err := h.AddressList(name)
	if err != nil {
		return nil
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.String()
	}
	return out
}

// bodies finds the first inline text/plain and text/html parts of an entity, walking nested
// multiparts. A malformed part ends the walk with what was found so far: the viewer shows
// less, but the stored message is untouched.
func bodies(h textproto.MIMEHeader, body io.Reader) (text, html string) {
	if strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		return "", ""
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mediaType = "text/plain" // RFC 2045's default
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return text, html
			}
			partText, partHTML := bodies(p.Header, p)
			text, html = cmp.Or(text, partText), cmp.Or(html, partHTML)
		}
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return "", ""
	}
	data, err := io.ReadAll(decodeTransfer(h.Get("Content-Transfer-Encoding"), body))
	if err != nil {
		return "", ""
	}
	if mediaType == "text/html" {
		return "", string(data)
	}
	return string(data), ""
}

func decodeTransfer(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}
