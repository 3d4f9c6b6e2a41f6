package anonymity

import "testing"

func TestThresholds(t *testing.T) {
	if DefaultK < MinK || MinK != 3 || DefaultK != 5 {
		t.Fatalf("k: default %d, floor %d", DefaultK, MinK)
	}
	for _, k := range []int{3, 5, 8} {
		if CommentThreshold(k) != 2*k {
			t.Errorf("comment threshold for k=%d: %d, want %d", k, CommentThreshold(k), 2*k)
		}
		if ShowInvited(k-1, k) || !ShowInvited(k, k) {
			t.Errorf("k=%d: invitees shown from %d on, want from k", k, k)
		}
		for _, c := range []struct {
			published bool
			own       int
			want      bool
		}{
			{true, 2*k - 1, false},
			{true, 2 * k, true},
			{false, 4 * k, false}, // a hidden unit shows no comments
		} {
			if got := ShowComments(c.published, c.own, k); got != c.want {
				t.Errorf("k=%d, published %v, %d own respondents: comments shown %v, want %v", k, c.published, c.own, got, c.want)
			}
		}
	}
}
