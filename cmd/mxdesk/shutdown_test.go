package main

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestStopUnderLoadLosesNothingAccepted sends mail from several clients, stops serve
// in the middle (SIGTERM: graceful; SIGKILL: a crash), starts it again, and checks that
// every message that got a 250 became exactly one ticket (guarantee 1).
func TestStopUnderLoadLosesNothingAccepted(t *testing.T) {
	for name, mkURL := range storetest.Dialects(t) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			t.Run(fmt.Sprintf("%s/%v", name, sig), func(t *testing.T) {
				inst := newInstance(t, mkURL(t), "", "")
				inst.start()
				var (
					mu       sync.Mutex
					accepted []string
					tried    int
					stop     = make(chan struct{})
					wg       sync.WaitGroup
				)
				for c := range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; ; i++ {
							select {
							case <-stop:
								return
							default:
							}
							subj := fmt.Sprintf("load-%d-%d", c, i)
							raw := fmt.Sprintf("From: c%d@example.org\r\nTo: support@example.com\r\nSubject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\n%s\r\n",
								c, subj, subj, strings.Repeat("body text ", 200))
							mu.Lock()
							tried++
							mu.Unlock()
							if err := send(inst.smtp, fmt.Sprintf("c%d@example.org", c), []string{"support@example.com"}, raw); err == nil {
								mu.Lock()
								accepted = append(accepted, subj)
								mu.Unlock()
							} else {
								time.Sleep(10 * time.Millisecond)
							}
						}
					}()
				}
				waitFor(t, "some accepted mail", 20*time.Second, func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(accepted) >= 40
				})
				err := inst.stop(sig)
				close(stop)
				wg.Wait()
				if sig == syscall.SIGTERM {
					if err != nil {
						t.Errorf("serve exited with %v after SIGTERM, want status 0", err)
					}
					if !strings.Contains(inst.log.String(), "stopped cleanly") {
						t.Errorf("no clean stop in the log")
					}
				}
				inst.start()
				want := map[string]bool{}
				for _, s := range accepted {
					want[s] = true
				}
				var list []ticketOut
				waitFor(t, "every accepted message as a ticket", 30*time.Second, func() bool {
					inst.cliJSON(&list, "ticket", "list", "--limit", "100000")
					found := 0
					for _, tk := range list {
						if want[tk.Subject] {
							found++
						}
					}
					return found >= len(want)
				})
				count := map[string]int{}
				for _, tk := range list {
					count[tk.Subject]++
				}
				for s := range want {
					if count[s] != 1 {
						t.Errorf("accepted message %s is %d tickets, want 1", s, count[s])
					}
				}
				if len(list) > tried {
					t.Errorf("%d tickets from %d attempts", len(list), tried)
				}
				var failed []any
				inst.cliJSON(&failed, "queue", "inbound", "--status", "failed")
				if len(failed) != 0 {
					t.Errorf("%d failed spool rows: %v", len(failed), failed)
				}
				t.Logf("%s: %d sent, %d accepted before the stop, %d tickets after restart", sig, tried, len(accepted), len(list))
			})
		}
	}
}
