package main

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The workflow cannot run here: check its shape instead.
func TestWorkflowFile(t *testing.T) {
	data, err := os.ReadFile("../../.github/workflows/validate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// GitHub reads workflows as YAML 1.2 (`on` is a string key), as yaml.v3 does.
	var wf struct {
		Name string         `yaml:"name"`
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			Name   string `yaml:"name"`
			RunsOn string `yaml:"runs-on"`
			Steps  []struct {
				Name string         `yaml:"name"`
				Uses string         `yaml:"uses"`
				Run  string         `yaml:"run"`
				With map[string]any `yaml:"with"`
				If   string         `yaml:"if"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
		Permissions map[string]string `yaml:"permissions"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&wf); err != nil {
		t.Fatalf("workflow is not valid YAML: %v", err)
	}
	if _, ok := wf.On["pull_request"]; !ok {
		t.Error("workflow does not run on pull requests")
	}
	if wf.Permissions["pull-requests"] != "write" {
		t.Error("workflow cannot comment on the pull request")
	}
	job, ok := wf.Jobs["validate"]
	if !ok {
		t.Fatal("no validate job")
	}
	var runs, scripts []string
	for _, s := range job.Steps {
		runs = append(runs, s.Run)
		if sc, ok := s.With["script"].(string); ok {
			scripts = append(scripts, sc)
		}
		if strings.HasPrefix(s.Uses, "actions/checkout") && s.With["fetch-depth"] != 0 {
			t.Error("checkout must fetch the history for diff --base")
		}
	}
	all := strings.Join(runs, "\n")
	for _, want := range []string{"korthops validate -o github", "korthops diff --base origin/${{ github.base_ref }} -o markdown"} {
		if !strings.Contains(all, want) {
			t.Errorf("no step runs %q", want)
		}
	}
	if len(scripts) != 1 || !strings.Contains(scripts[0], "updateComment") || !strings.Contains(scripts[0], "createComment") {
		t.Error("the diff is not posted as a single comment that is updated")
	}
}

func TestPreCommitHook(t *testing.T) {
	data, err := os.ReadFile("../../.pre-commit-hooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var hooks []map[string]any
	if err := yaml.Unmarshal(data, &hooks); err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0]["id"] != "korthops-validate" || hooks[0]["entry"] != "korthops validate" || hooks[0]["language"] != "golang" {
		t.Errorf("hooks %v", hooks)
	}
}
