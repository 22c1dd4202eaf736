// Command gen writes functions/catalog.mk, the Makefile's list of Lambda builds, from the
// catalogue: `go generate ./internal/catalog` runs it, and its test fails while the
// committed file differs from what it would write.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
)

func main() {
	out := flag.String("o", "functions/catalog.mk", "file to write")
	flag.Parse()
	if err := os.WriteFile(*out, render(catalog.All()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// render is the make include: LAMBDAS, one <LogicalId>:<folder> word per function, which
// the Makefile's build-<LogicalId> targets (the ones `sam build` runs) are made from.
func render(fns []catalog.Function) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated from internal/catalog by `go generate ./internal/catalog`; do not edit.\n")
	b.WriteString("# template.yaml's functions as <LogicalId>:<folder under functions/>.\n")
	b.WriteString("LAMBDAS := \\\n")
	for i, f := range fns {
		end := " \\\n"
		if i == len(fns)-1 {
			end = "\n"
		}
		fmt.Fprintf(&b, "\t%s:%s%s", f.LogicalID, f.Dir, end)
	}
	return b.Bytes()
}
