package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Formats lists the output formats.
func Formats() []string { return []string{"text", "markdown", "json"} }

// Write renders the result as text, markdown (for a pull-request comment) or json.
func (r *Result) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "markdown":
		return r.writeMarkdown(w)
	case "text":
		return r.writeText(w)
	}
	return fmt.Errorf("output format %q: must be one of %s", format, strings.Join(Formats(), ", "))
}

func (r *Result) writeText(w io.Writer) error {
	for _, c := range r.Clusters {
		fmt.Fprintf(w, "cluster %s: %d added, %d changed, %d removed\n", c.Name, len(c.Added), len(c.Changed), len(c.Removed))
		for _, group := range []struct {
			sign string
			res  []Resource
		}{{"+", c.Added}, {"~", c.Changed}, {"-", c.Removed}} {
			for _, res := range group.res {
				fmt.Fprintf(w, "%s %s (Kustomization %s)\n%s", group.sign, res.ID, res.Kustomization, res.Diff)
			}
		}
	}
	if len(r.Unaffected) > 0 {
		fmt.Fprintf(w, "unaffected: %s\n", strings.Join(r.Unaffected, ", "))
	}
	if !r.HasChanges() {
		fmt.Fprintf(w, "no change against %s\n", r.Base)
	}
	return nil
}

func (r *Result) writeMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "### korthops diff against `%s`\n\n", r.Base)
	if !r.HasChanges() {
		fmt.Fprintf(w, "No cluster changes.\n")
	} else {
		fmt.Fprintf(w, "| cluster | added | changed | removed |\n|---|---:|---:|---:|\n")
		for _, c := range r.Clusters {
			if len(c.Added)+len(c.Changed)+len(c.Removed) > 0 {
				fmt.Fprintf(w, "| %s | %d | %d | %d |\n", c.Name, len(c.Added), len(c.Changed), len(c.Removed))
			}
		}
		for _, c := range r.Clusters {
			if len(c.Added)+len(c.Changed)+len(c.Removed) == 0 {
				continue
			}
			fmt.Fprintf(w, "\n<details><summary><b>%s</b>: %d added, %d changed, %d removed</summary>\n\n", c.Name, len(c.Added), len(c.Changed), len(c.Removed))
			for _, group := range []struct {
				verb string
				res  []Resource
			}{{"added", c.Added}, {"changed", c.Changed}, {"removed", c.Removed}} {
				for _, res := range group.res {
					fmt.Fprintf(w, "**%s** `%s` (Kustomization `%s`)\n\n```diff\n%s```\n\n", group.verb, res.ID, res.Kustomization, res.Diff)
				}
			}
			fmt.Fprintf(w, "</details>\n")
		}
	}
	if len(r.Unaffected) > 0 {
		fmt.Fprintf(w, "\n_Unaffected clusters, not rendered: %s._\n", strings.Join(r.Unaffected, ", "))
	}
	return nil
}
