package ingest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestCopiesOnTwoReplicasAreStoredOnce: an MTA that timed out waiting for one replica's
// 250 retries at another, so two replicas can ingest copies of one message at the same
// moment. Each message must be stored once (guarantee 2), one row done and the
// other a duplicate, whether the copies meet as single rows or in batches that hold them
// in opposite orders.
func TestCopiesOnTwoReplicasAreStoredOnce(t *testing.T) {
	const pairs = 24
	tests := []struct {
		name string
		run  func(a, b *Ingester, h *harness, first, second []int64)
	}{
		{"row by row", func(a, b *Ingester, h *harness, first, second []int64) {
			for i := range first {
				var wg sync.WaitGroup
				for _, c := range []struct {
					g  *Ingester
					id int64
				}{{a, first[i]}, {b, second[i]}} {
					wg.Go(func() {
						if err := c.g.Process(h.ctx, c.id); err != nil {
							h.t.Errorf("process %d: %v", c.id, err)
						}
					})
				}
				wg.Wait()
			}
		}},
		{"in batches, opposite orders", func(a, b *Ingester, h *harness, first, second []int64) {
			reversed := slices.Clone(second)
			slices.Reverse(reversed)
			var wg sync.WaitGroup
			for _, c := range []struct {
				g   *Ingester
				ids []int64
			}{{a, first}, {b, reversed}} {
				wg.Go(func() {
					var items []*item
					for _, id := range c.ids {
						items = append(items, c.g.prepare(h.ctx, id, nil))
					}
					c.g.runBatch(h.ctx, items, c.g.lanes[0])
					for _, it := range items {
						if it.err != nil {
							h.t.Errorf("ingest %d: %v", it.in.ID, it.err)
						}
					}
				})
			}
			wg.Wait()
			h.drain() // rows a batch left for later (its time budget)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				h := newHarness(t, st, 100)
				other := newHarness(t, st, 100).g
				var first, second []int64
				for i := range pairs {
					from := fmt.Sprintf("c%d@example.org", i)
					raw := customer(from, fmt.Sprintf("copy-%d@example.org", i), "Sent twice")
					first = append(first, h.spool(from, support, raw))
					second = append(second, h.spool(from, support, raw))
				}
				tc.run(h.g, other, h, first, second)
				if got := h.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"); got != pairs {
					t.Errorf("%d messages stored for %d messages sent twice, want %d", got, pairs, pairs)
				}
				if got := h.count("SELECT COUNT(*) FROM tickets"); got != pairs {
					t.Errorf("%d tickets, want %d", got, pairs)
				}
				if got := h.count("SELECT COUNT(*) FROM inbound WHERE status = 'duplicate'"); got != pairs {
					t.Errorf("%d spool rows duplicate, want %d", got, pairs)
				}
			})
		})
	}
}
