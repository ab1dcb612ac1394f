package pacs

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Orthanc is a running Orthanc server.
type Orthanc struct {
	HTTPPort  int
	DICOMPort int
	cmd       *exec.Cmd
	log       *syncBuffer
	// exited is closed when the process has ended; err is its exit error then.
	exited   chan struct{}
	err      error
	stopOnce sync.Once
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Log is everything Orthanc printed.
func (o *Orthanc) Log() string { return o.log.String() }

// StartOrthanc runs Orthanc with a configuration file and environment, and waits until its REST
// API answers the given credentials. On failure the error carries Orthanc's own log.
func StartOrthanc(t testing.TB, config []byte, env []string, user, password string, httpPort, dicomPort int) (*Orthanc, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(path, config, 0o600); err != nil {
		return nil, err
	}
	o := &Orthanc{HTTPPort: httpPort, DICOMPort: dicomPort, log: &syncBuffer{}, exited: make(chan struct{})}
	o.cmd = exec.Command(OrthancBinary, "--verbose", path)
	o.cmd.Env = env
	o.cmd.Dir = dir
	o.cmd.Stdout, o.cmd.Stderr = o.log, o.log
	if err := o.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		o.err = o.cmd.Wait()
		close(o.exited)
	}()
	t.Cleanup(o.stop)
	client := &http.Client{Timeout: 2 * time.Second}
	err := waitFor(60*time.Second, func() error {
		select {
		case <-o.exited:
			return fmt.Errorf("orthanc exited: %v", o.err)
		default:
		}

		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/system", httpPort), nil)
		req.SetBasicAuth(user, password)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /system: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		o.stop()
		return nil, fmt.Errorf("orthanc did not start: %v\n--- Orthanc log (last lines) ---\n%s", err, tail(o.Log(), 30))
	}
	return o, nil
}

// stop ends Orthanc (SIGINT, then SIGKILL after 15 s) and waits for it; it is safe to call twice.
func (o *Orthanc) stop() {
	o.stopOnce.Do(func() {
		o.cmd.Process.Signal(os.Interrupt)
		select {
		case <-o.exited:
		case <-time.After(15 * time.Second):
			o.cmd.Process.Kill()
			<-o.exited
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
