package template_test

import (
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeMaxLines is the budget of README.md: what a newcomer needs, the rest in documents
// beside the code they describe.
const readmeMaxLines = 200

// readmeSetup is the block that must come right after README.md's title.
var readmeSetup = []string{"make dev", "make test"}

// readmeDocs are the documents README.md must link: the parts moved out of it.
var readmeDocs = []string{
	"internal/local/bench/README.md",
	"internal/soroban/README.md",
	"infra/RUNBOOK.md",
	"infra/README.md",
	"statemachine/README.md",
	"internal/store/README.md",
	"internal/pipeline/README.md",
	"internal/wiring/README.md",
	"internal/api/README.md",
}

// TestReadme holds README.md to its shape (short, the set-up commands first) and holds it and
// every Markdown document it links to relative links that resolve.
func TestReadme(t *testing.T) {
	t.Parallel()
	text := readText(t, "README.md")
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")

	t.Run("length", func(t *testing.T) {
		if len(lines) > readmeMaxLines {
			t.Errorf("README.md has %d lines, more than %d: move details into a document beside the code and link it", len(lines), readmeMaxLines)
		}
	})

	t.Run("set-up block first", func(t *testing.T) {
		if err := checkSetupBlock(lines); err != "" {
			t.Errorf("README.md must start with the title, then a fenced block holding exactly %q: %s", readmeSetup, err)
		}
	})

	links := markdownLinks(text)
	t.Run("moved documents linked", func(t *testing.T) {
		var linked []string
		for _, l := range links {
			if p, ok := localTarget(".", l); ok {
				linked = append(linked, p)
			}
		}
		for _, doc := range readmeDocs {
			if !slices.Contains(linked, doc) {
				t.Errorf("README.md does not link %s (add a relative link, e.g. [title](%s))", doc, doc)
			}
		}
	})

	// README.md, then every Markdown document it links, one level deep.
	docs := []string{"README.md"}
	for _, l := range links {
		if p, ok := localTarget(".", l); ok && strings.EqualFold(path.Ext(p), ".md") && !slices.Contains(docs, p) {
			docs = append(docs, p)
		}
	}
	for _, doc := range docs {
		t.Run("links in "+doc, func(t *testing.T) {
			t.Parallel()
			body := text
			if doc != "README.md" {
				b, err := os.ReadFile(filepath.FromSlash(doc))
				if err != nil {
					t.Fatalf("%s is linked from README.md but cannot be read: %v", doc, err)
				}
				body = string(b)
			}
			for _, l := range markdownLinks(body) {
				p, ok := localTarget(path.Dir(doc), l)
				if !ok {
					continue
				}
				if _, err := os.Stat(filepath.FromSlash(p)); err != nil {
					t.Errorf("%s links %q, but %s does not exist", doc, l, p)
				}
			}
		})
	}
}

func readText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkSetupBlock says what is wrong with the start of README.md, or "" when it is the
// title, then (after blank lines) a fenced block holding exactly readmeSetup.
func checkSetupBlock(lines []string) string {
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		return "the first line is not a '# ' title"
	}
	i := 1
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	if i >= len(lines) || !strings.HasPrefix(lines[i], "```") {
		return "no fenced block follows the title"
	}
	fence := i + 1
	end := fence
	for end < len(lines) && !strings.HasPrefix(lines[end], "```") {
		end++
	}
	if end >= len(lines) {
		return "the fenced block after the title is not closed"
	}
	if got := lines[fence:end]; !slices.Equal(got, readmeSetup) {
		return "it holds " + strings.Join(quoteAll(got), ", ")
	}
	return ""
}

func quoteAll(ss []string) []string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "`" + s + "`"
	}
	return q
}

var (
	// fencedBlock is a ``` or ~~~ block; links in code are not links.
	fencedBlock = regexp.MustCompile("(?ms)^[ \t]*(```|~~~).*?^[ \t]*(```|~~~)[ \t]*$")
	codeSpan    = regexp.MustCompile("`[^`\n]*`")
	// inlineLink is [text](target) or ![alt](target), with an optional "title"; the text may
	// hold one level of brackets.
	inlineLink = regexp.MustCompile(`\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)`)
	// refLink is a reference definition: [label]: target.
	refLink = regexp.MustCompile(`(?m)^[ ]{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)
)

// markdownLinks returns every link target in a Markdown text, outside code.
func markdownLinks(text string) []string {
	text = fencedBlock.ReplaceAllString(text, "")
	text = codeSpan.ReplaceAllString(text, "")
	var targets []string
	for _, re := range []*regexp.Regexp{inlineLink, refLink} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			targets = append(targets, strings.TrimSuffix(strings.TrimPrefix(m[1], "<"), ">"))
		}
	}
	return targets
}

// localTarget resolves a link found in a document in dir to a path from the repository
// root, without its #fragment. It reports false for links that leave the repository's
// files: URLs with a scheme (http:, https:, mailto: …) and bare #anchors.
func localTarget(dir, link string) (string, bool) {
	if link == "" || strings.HasPrefix(link, "#") {
		return "", false
	}
	if u, err := url.Parse(link); err == nil && u.Scheme != "" {
		return "", false
	}
	if i := strings.IndexAny(link, "#?"); i >= 0 {
		link = link[:i]
	}
	if p, err := url.PathUnescape(link); err == nil {
		link = p
	}
	if strings.HasPrefix(link, "/") {
		return path.Clean(strings.TrimPrefix(link, "/")), true
	}
	return path.Clean(path.Join(dir, link)), true
}
