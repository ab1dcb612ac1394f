package bootstrap

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// logger prints flux2's bootstrap progress as korthops lines, and never prints the secret it was
// given, whatever a library puts into a message.
type logger struct {
	mu     sync.Mutex
	out    io.Writer
	secret string
}

func newLogger(out io.Writer, secret string) *logger { return &logger{out: out, secret: secret} }

func (l *logger) printf(symbol, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if l.secret != "" {
		msg = strings.ReplaceAll(msg, l.secret, "<redacted>")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, "%s %s\n", symbol, msg)
}

func (l *logger) Actionf(format string, a ...any)   { l.printf("►", format, a...) }
func (l *logger) Generatef(format string, a ...any) { l.printf("✚", format, a...) }
func (l *logger) Waitingf(format string, a ...any)  { l.printf("◎", format, a...) }
func (l *logger) Successf(format string, a ...any)  { l.printf("✔", format, a...) }
func (l *logger) Warningf(format string, a ...any)  { l.printf("⚠️", format, a...) }
func (l *logger) Failuref(format string, a ...any)  { l.printf("✗", format, a...) }
