package sesoutbox

import (
	"encoding/json"
	"html"
	"html/template"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

var (
	srcdocAttr  = regexp.MustCompile(`srcdoc="([^"]*)"`)
	sandboxAttr = regexp.MustCompile(`<iframe[^>]* sandbox="([^"]*)"`)
)

func TestViewer(t *testing.T) {
	t.Parallel()
	msg := sent{
		from:    "=?UTF-8?Q?Klinik_S=C3=BCd?= <no-reply@klinik.example>",
		to:      []string{"Zoë <zoe@example.com>"},
		subject: `Zugang für <b>Klinik & Co</b> – "Süd"`,
		text:    "Hallo <Zoë>,\nbitte aktivieren: https://app.example/activate?token=abc&tenant=1\n",
		html:    evilHTML,
	}
	cases := []struct {
		name string
		dir  bool
	}{{"with files", true}, {"in memory", false}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := ""
			if c.dir {
				dir = filepath.Join(t.TempDir(), "mail")
			}
			f := newFixtureIn(t, dir, WithAutoVerify())
			id := f.send(t, msg)
			escapedSubject := template.HTMLEscapeString(msg.subject)

			t.Run("list", func(t *testing.T) {
				resp, body := get(t, f.url+"/") // the root sends a browser to the list
				checkPage(t, resp, body, "text/html")
				for _, want := range []string{escapedSubject, `href="outbox/messages/` + id + `"`, `href="outbox/messages/` + id + `.eml"`, "Zoë &lt;zoe@example.com&gt;", "Klinik Süd &lt;no-reply@klinik.example&gt;"} {
					if !strings.Contains(body, want) {
						t.Errorf("list page lacks %q:\n%s", want, body)
					}
				}
			})
			t.Run("message", func(t *testing.T) {
				resp, body := get(t, f.url+"/outbox/messages/"+id)
				checkPage(t, resp, body, "text/html")
				if !strings.Contains(body, "<h1>"+escapedSubject+"</h1>") {
					t.Errorf("message page lacks the escaped subject:\n%s", body)
				}
				if !strings.Contains(body, "<pre>"+template.HTMLEscapeString(msg.text)+"</pre>") {
					t.Errorf("message page lacks the escaped text part:\n%s", body)
				}
				checkSandboxedHTML(t, body, msg.html)
			})
			t.Run("eml", func(t *testing.T) {
				resp, body := get(t, f.url+"/outbox/messages/"+id+".eml")
				checkPage(t, resp, body, "message/rfc822")
				m := f.outbox.Messages()[0]
				checkEML(t, []byte(body), m, msg)
				if c.dir {
					if data, err := os.ReadFile(m.File); err != nil || string(data) != body {
						t.Errorf("served .eml differs from the file (%v)", err)
					}
				}
			})
			t.Run("json", func(t *testing.T) {
				resp, body := get(t, f.url+"/outbox/messages.json")
				checkPage(t, resp, body, "application/json")
				var got []Message
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatalf("messages.json: %v", err)
				}
				if want := f.outbox.Messages(); !reflect.DeepEqual(got, want) {
					t.Errorf("messages.json\n got %+v\nwant %+v", got, want)
				}
				var raw []map[string]any
				_ = json.Unmarshal([]byte(body), &raw)
				for _, key := range []string{"id", "from", "to", "subject", "text", "html", "sentAt"} {
					if _, ok := raw[0][key]; !ok {
						t.Errorf("messages.json lacks %q: %v", key, raw[0])
					}
				}
			})
			t.Run("unknown message", func(t *testing.T) {
				for _, path := range []string{"/outbox/messages/nope", "/outbox/messages/nope.eml"} {
					if resp, _ := get(t, f.url+path); resp.StatusCode != http.StatusNotFound {
						t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
					}
				}
			})
		})
	}
}

func checkPage(t *testing.T, resp *http.Response, body, contentType string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), contentType) {
		t.Fatalf("%s: %d %s, want 200 %s:\n%s", resp.Request.URL, resp.StatusCode, resp.Header.Get("Content-Type"), contentType, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q: pages with personal data must not be cached", resp.Header.Get("Cache-Control"))
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", resp.Header.Get("Content-Security-Policy"))
	}
}

// checkSandboxedHTML checks that the sent HTML, script and all, reaches the browser only as
// the srcdoc of a script-less sandbox, and comes back exactly once the attribute is decoded.
func checkSandboxedHTML(t *testing.T, page, sentHTML string) {
	t.Helper()
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Errorf("page contains a live <script>:\n%s", page)
	}
	sandbox := sandboxAttr.FindStringSubmatch(page)
	if sandbox == nil {
		t.Fatalf("no sandboxed iframe:\n%s", page)
	}
	for _, forbidden := range []string{"allow-scripts", "allow-same-origin", "allow-forms", "allow-top-navigation"} {
		if strings.Contains(sandbox[1], forbidden) {
			t.Errorf("sandbox %q grants %s", sandbox[1], forbidden)
		}
	}
	srcdoc := srcdocAttr.FindStringSubmatch(page)
	if srcdoc == nil {
		t.Fatalf("no srcdoc:\n%s", page)
	}
	if got := html.UnescapeString(srcdoc[1]); got != sentHTML {
		t.Errorf("srcdoc decodes to\n%q\nwant the HTML as sent\n%q", got, sentHTML)
	}
}

func TestFold(t *testing.T) {
	t.Parallel()
	cases := []string{
		"",
		"short",
		strings.Repeat("word ", 40),
		"two  spaces and a " + strings.Repeat("x", 120) + " very long word",
	}
	for _, value := range cases {
		got := fold("Subject", value)
		if !strings.HasSuffix(got, "\r\n") {
			t.Errorf("fold(%q) = %q, not CRLF-terminated", value, got)
		}
		if unfolded := strings.ReplaceAll(strings.TrimSuffix(got, "\r\n"), "\r\n", ""); unfolded != "Subject: "+value {
			t.Errorf("fold(%q) unfolds to %q", value, unfolded)
		}
		for _, line := range strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n") {
			if len(line) > maxLine && strings.Contains(strings.TrimSpace(line), " ") {
				t.Errorf("fold(%q): line %q is long though it could break", value, line)
			}
		}
	}
}
