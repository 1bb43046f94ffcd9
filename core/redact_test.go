package core

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// Marked secrets go through every config error path, a refused connection, a
// refused login and a working bus; no error, log line (at debug) or stats
// output may show one, whatever the JSON type it was given as.
func TestSecretsNeverShown(t *testing.T) {
	const mark = "S3cr3tMark"
	free := freePort(t)
	srvURL := func(userinfo string) string { return fmt.Sprintf("nats://%s@127.0.0.1:%d", userinfo, free) }
	// A listening embedded server that requires a password, to be refused by.
	dir := t.TempDir()
	guarded := openBus(t, storeConfig(dir, `,"listen":"127.0.0.1:0"`, `,"auth":{"user":"alice","password":"`+mark+`pw"}`))
	guardedURL := strings.TrimPrefix(guarded.js.serverLabel(), "nats://")

	configs := []string{
		// wrong JSON types: the value must not be quoted back
		`{"auth":{"password":["` + mark + `1"]}}`,
		`{"auth":{"password":{"p":"` + mark + `2"}}}`,
		`{"auth":{"token":{"t":"` + mark + `3"}}}`,
		`{"auth":{"token":7331733173317331}}`,
		`{"auth":{"user":["` + mark + `4"],"password":"x"}}`,
		`{"auth":{"creds_file":["` + mark + `5"]}}`,
		`{"auth":{"nkey_seed_file":{"f":"` + mark + `6"}}}`,
		`{"url":"nats://h:4222","tls":{"key_file":["` + mark + `7"],"cert_file":"c"}}`,
		// rules across fields
		`{"auth":{"user":"` + mark + `8"}}`,
		`{"auth":{"password":"` + mark + `9"}}`,
		`{"auth":{"token":"` + mark + `10","user":"` + mark + `11","password":"` + mark + `12"}}`,
		`{"auth":{"creds_file":"/` + mark + `13"}}`,
		`{"auth":{"nkey_seed_file":"/` + mark + `14"}}`,
		`{"url":"nats://h:4222","auth":{"nkey_seed_file":"/nonexistent/` + mark + `15"}}`,
		`{"url":"nats://h:4222","tls":{"cert_file":"c","key_file":"/` + mark + `16"},"auth":{"token":"` + mark + `17"}}`,
		// user info in URLs, commas in the password included
		`{"url":"nats://alice:pa,` + mark + `18@127.0.0.1:4222"}`,
		`{"url":"nats://alice:` + mark + `19,x@"}`,
		`{"url":"http://u:` + mark + `20@h:1"}`,
		`{"url":"nats://h:1,,nats://u:` + mark + `21@h:2"}`,
		`{"url":"` + srvURL("bob:"+mark+"22") + `","connect_timeout_ms":300}`,
		`{"url":"` + srvURL(mark+"23") + `","connect_timeout_ms":300}`,
		`{"url":"nats://alice:` + mark + `24@` + guardedURL + `","connect_timeout_ms":2000}`,
		`{"url":"nats://` + guardedURL + `","auth":{"user":"alice","password":"` + mark + `25"},"connect_timeout_ms":2000}`,
		`{"url":"nats://` + guardedURL + `","auth":{"token":"` + mark + `26"},"connect_timeout_ms":2000}`,
	}
	for i, cfg := range configs {
		cfg = strings.Replace(cfg, "{", `{"log_level":"debug",`, 1)
		out := captureStderr(t, func() string {
			b, err := Open([]byte(cfg))
			if err == nil {
				b.Close()
				return "opened"
			}
			return err.Error() + "\n" + string(ErrorJSON(err))
		})
		if strings.Contains(out, mark) || strings.Contains(out, "7331733173317331") {
			t.Errorf("config %d shows a secret:\n%s", i, out)
		}
	}

	// A working bus with a password and a token: stats and the config's text.
	out := captureStderr(t, func() string {
		b := openBus(t, `{"log_level":"debug","url":"nats://alice:`+mark+`pw@`+guardedURL+`"}`)
		s, err := b.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return string(s) + "\n" + b.cfg.String()
	})
	if !strings.Contains(out, `"healthy":true`) || strings.Contains(out, mark) {
		t.Fatalf("a working bus shows a secret, or is not healthy:\n%s", out)
	}
}

// captureStderr runs fn with the process's stderr (where the library logs)
// going to a pipe, and returns fn's result followed by what was written.
func captureStderr(t *testing.T, fn func() string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	logged := make(chan string)
	go func() { b, _ := io.ReadAll(r); logged <- string(b) }()
	res := fn()
	os.Stderr = saved
	w.Close()
	return res + "\n" + <-logged
}
