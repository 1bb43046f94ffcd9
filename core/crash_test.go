package core

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const crashEnv = "NETMESH_TEST_CRASH_DIR"

// TestCrashChild is the process killed by TestAckedEventsSurviveProcessKill:
// it publishes, says so once every event is acknowledged, and waits to die. It
// calls Open itself: it reports errors on stdout, and never returns.
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
		if _, err := b.Publish([]byte(`{"events":` + eventsJSON(numberedEvents(i*1000, 1000)) + `}`)); err != nil {
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
	cmd := childTest("TestCrashChild", crashEnv, dir)
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

	b := openBus(t, fileConfig(dir, `,"shards":4`)) // after the kill
	got, _ := pollAll(t, b, "", 1000, "")
	checkExactlyOnce(t, got, 5000)
}
