package main

import (
	"sync/atomic"
	"testing"
)

// TestBatchCallCheck: an answer equal to one verified right is right
// without decoding; any other answer is verified, so a wrong one is
// counted even after right ones.
func TestBatchCallCheck(t *testing.T) {
	verified := 0
	c := batchCall{known: new(atomic.Pointer[[]byte]), verify: func(ans []byte) (int, error) {
		verified++
		if string(ans) != `{"allowed":true}` {
			return 1, nil
		}
		return 0, nil
	}}
	steps := []struct {
		answer       string
		wrong        int
		wantVerified int
	}{
		{`{"allowed":false}`, 1, 1},
		{`{"allowed":true}`, 0, 2},
		{`{"allowed":true}`, 0, 2}, // known: not decoded again
		{`{"allowed":false}`, 1, 3},
		{`{"allowed":true}`, 0, 3},
	}
	for i, st := range steps {
		wrong, err := c.check([]byte(st.answer))
		if err != nil || wrong != st.wrong || verified != st.wantVerified {
			t.Errorf("step %d (%s): wrong %d, err %v, verified %d times; want wrong %d, verified %d times",
				i, st.answer, wrong, err, verified, st.wrong, st.wantVerified)
		}
	}
}
