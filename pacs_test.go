package korthops_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/korthops/korthops/internal/pacs"
	"github.com/korthops/korthops/validate"
)

// pacsConfig is Orthanc's configuration and environment exactly as the scaffolded manifests of a
// cluster define them, before the few overrides a process outside a container needs.
type pacsConfig struct {
	config    map[string]any    // orthanc.json from the orthanc-config ConfigMap
	env       map[string]string // the Deployment's env and envFrom, secrets resolved
	domain    string
	dbName    string
	dbUser    string
	adminUser string
	secrets   map[string]map[string]string
}

func renderPACS(t *testing.T, cluster string) *pacsConfig {
	t.Helper()
	v, err := validate.New(validate.Opts{Cluster: cluster, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := v.Render(context.Background(), ".")
	if err != nil || len(rendered) != 1 {
		t.Fatalf("render %s: %v", cluster, err)
	}
	objs := map[string]map[string]any{}
	for _, ks := range rendered[0].Kustomizations {
		for _, o := range ks.Objects {
			objs[o.Kind+"/"+o.Name] = o.Map
			if i := strings.LastIndex(o.Name, "-"); o.Kind == "ConfigMap" && i > 0 {
				objs[o.Kind+"/"+o.Name[:i]] = o.Map // generated names carry a hash suffix
			}
		}
	}
	get := func(key string) map[string]any {
		o, ok := objs[key]
		if !ok {
			t.Fatalf("cluster %s renders no %s", cluster, key)
		}
		return o
	}
	// The secrets bootstrap creates: random values under the names and keys the manifests use.
	random := func() string {
		b := make([]byte, 18)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	pc := &pacsConfig{env: map[string]string{}, secrets: map[string]map[string]string{
		"postgresql-auth":     {"password": random(), "postgres-password": random()},
		"orthanc-credentials": {"username": "admin", "password": random()},
	}}
	cm := get("ConfigMap/orthanc-config")["data"].(map[string]any)
	if err := json.Unmarshal([]byte(cm["orthanc.json"].(string)), &pc.config); err != nil {
		t.Fatalf("orthanc.json: %v", err)
	}
	deploy := get("Deployment/orthanc")
	container := deploy["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	for _, ef := range container["envFrom"].([]any) {
		ref := ef.(map[string]any)["configMapRef"].(map[string]any)["name"].(string)
		data := get("ConfigMap/" + ref[:strings.LastIndex(ref, "-")])["data"].(map[string]any)
		for k, v := range data {
			pc.env[k] = v.(string)
		}
	}
	for _, e := range container["env"].([]any) {
		e := e.(map[string]any)
		name := e["name"].(string)
		if v, ok := e["value"].(string); ok {
			pc.env[name] = v
			continue
		}
		ref := e["valueFrom"].(map[string]any)["secretKeyRef"].(map[string]any)
		val, ok := pc.secrets[ref["name"].(string)][ref["key"].(string)]
		if !ok {
			t.Fatalf("env %s refers to secret %s key %s, which bootstrap does not create", name, ref["name"], ref["key"])
		}
		pc.env[name] = val
	}
	values := get("HelmRelease/postgresql")["spec"].(map[string]any)["values"].(map[string]any)["auth"].(map[string]any)
	pc.dbName, pc.dbUser = values["database"].(string), values["username"].(string)
	pc.domain = get("ConfigMap/cluster-settings")["data"].(map[string]any)["CLUSTER_DOMAIN"].(string)
	users := pc.config["RegisteredUsers"].(map[string]any)
	for u := range users {
		pc.adminUser = u
	}
	return pc
}

// overrides are the only differences from the manifests, all forced by running outside a
// container: ports and data folders of this process, the PostgreSQL address, and where Debian
// keeps the plugins.
func (pc *pacsConfig) overrides(t *testing.T, pgPort, httpPort, dicomPort int) ([]byte, []string) {
	t.Helper()
	cfg := map[string]any{}
	for k, v := range pc.config {
		cfg[k] = v
	}
	dir := t.TempDir()
	cfg["StorageDirectory"], cfg["IndexDirectory"] = dir, dir
	cfg["HttpPort"], cfg["DicomPort"] = httpPort, dicomPort
	pg := map[string]any{}
	for k, v := range cfg["PostgreSQL"].(map[string]any) {
		pg[k] = v
	}
	pg["Port"] = pgPort
	cfg["PostgreSQL"] = pg
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	for k, v := range pc.env {
		switch k {
		case "DB_HOST":
			v = "127.0.0.1"
		case "ORTHANC_PLUGINS_DIR":
			if v == "/usr/local/share/orthanc/plugins" { // the image's folder, as the Deployment sets it
				v = pacs.OrthancPluginDir
			}
		}
		env = append(env, k+"="+v)
	}
	return data, env
}

func requirePACS(t *testing.T) {
	pacs.Require(t, pacs.OrthancBinary, "echoscu", "storescu", "img2dcm", "dcmdjpeg", "runuser")
	if pacs.PostgresBin() == "" {
		pacs.Require(t, "initdb")
	}
}

// running is an Orthanc started from the scaffolded configuration, with one study stored.
type running struct {
	orthanc             *pacs.Orthanc
	admin, password     string
	httpPort, dicomPort int
}

// exercise starts Orthanc from the rendered configuration (after mutate, for the broken cases),
// checks C-ECHO, C-STORE, the REST API and the PostgreSQL tables, and returns Orthanc's own log
// with any failure.
func exercise(t *testing.T, pc *pacsConfig, pg *pacs.Postgres, mutate func(env map[string]string, cfg map[string]any)) (*running, error) {
	t.Helper()
	c := *pc
	c.env, c.config = map[string]string{}, map[string]any{}
	for k, v := range pc.env {
		c.env[k] = v
	}
	for k, v := range pc.config {
		c.config[k] = v
	}
	if mutate != nil {
		mutate(c.env, c.config)
	}
	r := &running{httpPort: pacs.FreePort(t), dicomPort: pacs.FreePort(t),
		admin: pc.secrets["orthanc-credentials"]["username"], password: pc.secrets["orthanc-credentials"]["password"]}
	if pc.adminUser != r.admin {
		return nil, fmt.Errorf("Orthanc's registered user %q is not the secret's username %q", pc.adminUser, r.admin)
	}
	config, env := c.overrides(t, pg.Port, r.httpPort, r.dicomPort)
	var err error
	if r.orthanc, err = pacs.StartOrthanc(t, config, env, r.admin, r.password, r.httpPort, r.dicomPort); err != nil {
		return nil, err
	}
	fail := func(format string, a ...any) (*running, error) {
		return nil, fmt.Errorf(format+"\n--- Orthanc log (errors) ---\n%s", append(a, errorLines(r.orthanc.Log()))...)
	}
	addr := []string{"-aec", "ORTHANC", "127.0.0.1", strconv.Itoa(r.dicomPort)}
	if out, err := exec.Command("echoscu", addr...).CombinedOutput(); err != nil {
		return fail("echoscu: %v\n%s", err, out)
	}
	if out, err := exec.Command("storescu", append(addr, dicomFile(t))...).CombinedOutput(); err != nil {
		return fail("storescu: %v\n%s", err, out)
	}
	if n := len(getJSON(t, r.httpPort, r.admin, r.password, "/studies").([]any)); n != 1 {
		return fail("REST API lists %d studies, want 1", n)
	}
	if code := status(t, r.httpPort, "", "", "/studies"); code != http.StatusUnauthorized {
		return fail("REST API without credentials answers %d, want 401", code)
	}
	// The index and the attachments are in PostgreSQL, not in a local SQLite fallback.
	if n, _ := strconv.Atoi(pg.SQL(t, pc.dbName, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('resources','storagearea')")); n != 2 {
		return fail("PostgreSQL has %d of the index and storage tables: Orthanc does not use it", n)
	}
	if n, _ := strconv.Atoi(pg.SQL(t, pc.dbName, "SELECT count(*) FROM resources")); n < 4 {
		return fail("PostgreSQL index holds %d resources, want patient, study, series and instance", n)
	}
	if n, _ := strconv.Atoi(pg.SQL(t, pc.dbName, "SELECT count(*) FROM storagearea")); n < 1 {
		return fail("PostgreSQL storage area holds %d attachments", n)
	}
	return r, nil
}

func errorLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "E") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func newDatabase(t *testing.T, pc *pacsConfig) *pacs.Postgres {
	t.Helper()
	pg := pacs.StartPostgres(t)
	pg.CreateDatabase(t, pc.dbName, pc.dbUser, pc.secrets["postgresql-auth"]["password"])
	return pg
}

// The scaffolded Orthanc really runs: PostgreSQL index and storage, DICOM C-ECHO and C-STORE, the
// REST API with the generated credentials, and DICOM over TLS as the ingress terminates it.
func TestScaffoldedPACSRuns(t *testing.T) {
	requirePACS(t)
	start := time.Now()
	for _, cluster := range []string{"onprem", "azure"} { // Istio and Traefik render the same Orthanc
		t.Run(cluster, func(t *testing.T) {
			pc := renderPACS(t, cluster)
			r, err := exercise(t, pc, newDatabase(t, pc), nil)
			if err != nil {
				t.Fatal(err)
			}
			if cluster != "onprem" {
				return
			}
			// DICOM over TLS, terminated in front of Orthanc with the cert-manager chain's certificates.
			chain := pacs.NewChain(t, "dicom."+pc.domain, "orthanc."+pc.domain)
			intermediates := x509.NewCertPool()
			inter, _ := x509.ParseCertificate(chain.Server.Certificate[1])
			intermediates.AddCert(inter)
			roots := x509.NewCertPool()
			roots.AddCert(chain.Root)
			if _, err := chain.Server.Leaf.Verify(x509.VerifyOptions{DNSName: "dicom." + pc.domain, Roots: roots, Intermediates: intermediates}); err != nil {
				t.Fatalf("server certificate is not valid for the DICOM host name: %v", err)
			}
			tlsAddr := pacs.ServeTLS(t, chain.Server, fmt.Sprintf("127.0.0.1:%d", r.dicomPort))
			host, port, _ := strings.Cut(tlsAddr, ":")
			ca := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(ca, chain.RootPEM, 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, "echoscu", "+tla", "+cf", ca, "-aec", "ORTHANC", host, port)
			run(t, "storescu", "+tla", "+cf", ca, "-aec", "ORTHANC", host, port, dicomFile(t))
			if n := len(getJSON(t, r.httpPort, r.admin, r.password, "/studies").([]any)); n != 2 {
				t.Errorf("after a store over TLS the REST API lists %d studies, want 2", n)
			}
			if out, err := exec.Command("echoscu", "+tla", "-aec", "ORTHANC", host, port).CombinedOutput(); err == nil {
				t.Errorf("a client that does not trust the CA was accepted:\n%s", out)
			}
		})
	}
	t.Logf("PACS tests took %s", time.Since(start).Round(time.Millisecond))
}

// A broken configuration fails, with Orthanc's own error in the message.
func TestBrokenPACSConfigurationFails(t *testing.T) {
	requirePACS(t)
	pc := renderPACS(t, "onprem")
	tests := []struct {
		name   string
		mutate func(env map[string]string, cfg map[string]any)
		want   string
	}{
		// Orthanc expands an undefined variable to an empty string; PostgreSQL then refuses it.
		{"missing environment variable", func(env map[string]string, _ map[string]any) {
			delete(env, "DB_PASSWORD")
		}, "no password supplied"},
		// Orthanc only logs a missing plugin and falls back to SQLite: the PostgreSQL check sees it.
		{"wrong plugin folder", func(env map[string]string, _ map[string]any) {
			env["ORTHANC_PLUGINS_DIR"] = "/usr/lib/orthanc/none"
		}, "Inexistent path to plugins: /usr/lib/orthanc/none/libOrthancPostgreSQLIndex.so"},
		{"wrong database setting", func(_ map[string]string, cfg map[string]any) {
			pg := map[string]any{}
			for k, v := range cfg["PostgreSQL"].(map[string]any) {
				pg[k] = v
			}
			pg["Database"] = "pacs"
			cfg["PostgreSQL"] = pg
		}, `database "pacs" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exercise(t, pc, newDatabase(t, pc), tt.mutate)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\nwant Orthanc's message %q", err, tt.want)
			}
		})
	}
}

// dicomFile makes a small secondary-capture DICOM instance with dcmtk's img2dcm.
func dicomFile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.Gray{Y: 255})
	jpg := filepath.Join(dir, "in.jpg")
	f, err := os.Create(jpg)
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, img, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	jpegDCM, out := filepath.Join(dir, "jpeg.dcm"), filepath.Join(dir, "instance.dcm")
	run(t, "img2dcm", "-k", "PatientName=KORTHOPS^TEST", "-k", "PatientID=K"+strconv.FormatInt(time.Now().UnixNano(), 36), jpg, jpegDCM)
	// Uncompressed, so every storage SCP accepts the default transfer syntaxes storescu proposes.
	run(t, "dcmdjpeg", jpegDCM, out)
	return out
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func status(t *testing.T, port int, user, password, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getJSON(t *testing.T, port int, user, password, path string) any {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
