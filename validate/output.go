package validate

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Format is a report format.
type Format string

const (
	FormatText   Format = "text"
	FormatJSON   Format = "json"
	FormatJUnit  Format = "junit"
	FormatSARIF  Format = "sarif"
	FormatGitHub Format = "github"
)

// Formats lists the report formats.
func Formats() []string { return []string{"text", "json", "junit", "sarif", "github"} }

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	if !slices.Contains(Formats(), s) {
		return "", fmt.Errorf("output format %q: must be one of %s", s, strings.Join(Formats(), ", "))
	}
	return Format(s), nil
}

// Write renders the report. color applies to the text format only.
func (r *Report) Write(w io.Writer, format Format, color bool) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if r.Findings == nil {
			r.Findings = []Finding{}
		}
		return enc.Encode(r)
	case FormatJUnit:
		return r.writeJUnit(w)
	case FormatSARIF:
		return r.writeSARIF(w)
	case FormatGitHub:
		return r.writeGitHub(w)
	default:
		return r.writeText(w, color)
	}
}

func (r *Report) writeText(w io.Writer, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	for _, f := range r.Findings {
		sev := paint("31", "error")
		if f.Severity == SeverityWarning {
			sev = paint("33", "warning")
		}
		fmt.Fprintf(w, "%s: %s [%s] %s\n", paint("1", f.Location()), sev, f.Check, f.Message)
		var ctx []string
		if f.Resource != "" {
			ctx = append(ctx, "resource "+f.Resource)
		}
		if f.Field != "" {
			ctx = append(ctx, "field "+f.Field)
		}
		if f.Cluster != "" {
			ctx = append(ctx, "cluster "+f.Cluster)
		}
		if f.Kustomization != "" {
			ctx = append(ctx, "via Kustomization "+f.Kustomization)
		}
		if len(ctx) > 0 {
			fmt.Fprintf(w, "    %s\n", strings.Join(ctx, ", "))
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped cluster %s: %s\n", s.Cluster, s.Reason)
	}
	status := paint("32", "valid")
	if !r.Valid() {
		status = paint("31", fmt.Sprintf("%d error(s)", r.Errors()))
	}
	_, err := fmt.Fprintf(w, "%s: %d cluster(s), %d Flux Kustomization(s), %d other kustomization root(s), %d resource(s), Kubernetes %s schemas; %d warning(s)\n",
		status, len(r.Clusters), r.Kustomizations, r.Roots, r.Resources, r.KubernetesVersion, len(r.Findings)-r.Errors())
	return err
}

// writeGitHub prints workflow commands, which GitHub shows as annotations on the changed lines.
func (r *Report) writeGitHub(w io.Writer) error {
	escape := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	escapeProp := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
	for _, f := range r.Findings {
		level := "error"
		if f.Severity == SeverityWarning {
			level = "warning"
		}
		props := []string{"title=" + escapeProp.Replace("korthops "+f.Check)}
		if f.File != "" {
			props = append(props, "file="+escapeProp.Replace(f.File))
		}
		if f.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", f.Line))
		}
		msg := f.Message
		if f.Resource != "" {
			msg = f.Resource + ": " + msg
		}
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", level, strings.Join(props, ","), escape.Replace(msg)); err != nil {
			return err
		}
	}
	return nil
}

func (r *Report) writeJUnit(w io.Writer) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		ClassName string   `xml:"classname,attr"`
		Failure   *failure `xml:"failure,omitempty"`
	}
	type suite struct {
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	type suites struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []suite  `xml:"testsuite"`
	}
	s := suite{Name: "korthops validate"}
	for _, f := range r.Findings {
		if f.Severity != SeverityError {
			continue
		}
		s.Cases = append(s.Cases, testcase{Name: f.Location() + " " + f.Resource, ClassName: f.Cluster,
			Failure: &failure{Message: f.Message, Type: f.Check, Text: f.Field}})
	}
	s.Failures = len(s.Cases)
	if len(s.Cases) == 0 {
		s.Cases = append(s.Cases, testcase{Name: fmt.Sprintf("%d resources", r.Resources), ClassName: "korthops"})
	}
	s.Tests = len(s.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suites{Suites: []suite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func (r *Report) writeSARIF(w io.Writer) error {
	type region struct {
		StartLine int `json:"startLine,omitempty"`
	}
	type physical struct {
		ArtifactLocation map[string]string `json:"artifactLocation"`
		Region           *region           `json:"region,omitempty"`
	}
	type location struct {
		PhysicalLocation physical `json:"physicalLocation"`
	}
	type result struct {
		RuleID    string            `json:"ruleId"`
		Level     string            `json:"level"`
		Message   map[string]string `json:"message"`
		Locations []location        `json:"locations,omitempty"`
	}
	var rules []map[string]any
	seen := map[string]bool{}
	var results []result
	for _, f := range r.Findings {
		if !seen[f.Check] {
			seen[f.Check] = true
			rules = append(rules, map[string]any{"id": f.Check})
		}
		res := result{RuleID: f.Check, Level: string(f.Severity), Message: map[string]string{"text": strings.TrimSpace(f.Resource + " " + f.Field + ": " + f.Message)}}
		if f.File != "" {
			loc := location{PhysicalLocation: physical{ArtifactLocation: map[string]string{"uri": f.File}}}
			if f.Line > 0 {
				loc.PhysicalLocation.Region = &region{StartLine: f.Line}
			}
			res.Locations = []location{loc}
		}
		results = append(results, res)
	}
	if rules == nil {
		rules = []map[string]any{}
	}
	if results == nil {
		results = []result{}
	}
	doc := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": map[string]any{"name": "korthops", "informationUri": "https://github.com/korthops/korthops", "rules": rules}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
