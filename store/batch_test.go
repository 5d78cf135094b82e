package store

import (
	"context"
	"errors"
	"testing"
)

func TestBatchTakeOutboxWaitsForTheWorkBeside(t *testing.T) {
	boom := errors.New("template broke")
	tests := []struct {
		name    string
		fail    []bool // per row: its work beside fails
		wantErr error
	}{
		{"all composed", []bool{false, false, false}, nil},
		{"one fails", []bool{false, true, false}, boom},
		{"none", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, b := WithBatch(context.Background())
			release := make(chan struct{})
			for i, fail := range tc.fail {
				row := &Outbox{RcptTo: string(rune('a' + i))}
				b.QueueOutbox(row)
				b.Beside(func() error {
					<-release // may still run when TakeOutbox is called
					if fail {
						return boom
					}
					row.Raw = []byte("mail to " + row.RcptTo)
					return nil
				})
			}
			close(release)
			rows, err := b.TakeOutbox()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if len(rows) != len(tc.fail) {
				t.Fatalf("%d rows, want %d", len(rows), len(tc.fail))
			}
			for i, r := range rows {
				if want := string(rune('a' + i)); r.RcptTo != want {
					t.Errorf("row %d is %q, want %q: not in queued order", i, r.RcptTo, want)
				}
				if !tc.fail[i] && string(r.Raw) != "mail to "+r.RcptTo {
					t.Errorf("row %d: Raw %q, its work beside not waited for", i, r.Raw)
				}
			}
			if again, err := b.TakeOutbox(); len(again) != 0 || err != nil {
				t.Errorf("a second TakeOutbox returned %d rows, %v", len(again), err)
			}
		})
	}
}
