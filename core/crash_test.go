package core

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const crashEnv = "NETMESH_TEST_CRASH_DIR"

// TestCrashChild is the process killed by TestAckedEventsSurviveProcessKill:
// it publishes, says so once every event is acknowledged, and waits to die.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child process of TestAckedEventsSurviveProcessKill")
	}
	b, err := Open([]byte(fileConfig(dir, `,"shards":4`)))
	if err != nil {
		fmt.Printf("open: %v\n", err)
		os.Exit(1)
	}
	for i := 0; i < 5; i++ {
		if _, err := b.Publish([]byte(procEvents(i*1000, 1000))); err != nil {
			fmt.Printf("publish: %v\n", err)
			os.Exit(1)
		}
	}
	fmt.Println("acknowledged")
	time.Sleep(time.Minute)
	os.Exit(1)
}

// Every acknowledged event survives a SIGKILL of the process running the
// embedded server, and the next process can take the store directory over.
func TestAckedEventsSurviveProcessKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if s := sc.Text(); s == "acknowledged" || strings.HasPrefix(s, "open:") || strings.HasPrefix(s, "publish:") {
				line <- s
				return
			}
		}
		line <- "child ended"
	}()
	select {
	case s := <-line:
		if s != "acknowledged" {
			t.Fatalf("child: %s", s)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("child did not publish")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	b, err := Open([]byte(fileConfig(dir, `,"shards":4`)))
	if err != nil {
		t.Fatalf("open after the kill: %v", err)
	}
	defer b.Close()
	checkExactlyOnce(t, procReadAll(t, b, 1000), 5000)
}
