package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// TestTopModel drives the live view's model without a terminal: samples
// become frames, keys sort and quit, the window's size bounds the view.
func TestTopModel(t *testing.T) {
	t0 := time.Unix(1000, 0)
	samples := []topSample{
		sampleAt(t0, topStatus(1, 0, topProg("first", 100, 0), topProg("second", 0, 0))),
		sampleAt(t0.Add(time.Second), topStatus(1, 0, topProg("first", 400, 0), topProg("second", 50, 0))),
	}
	calls, toggles := 0, 0
	m := newTopModel(func() (topSample, error) {
		s := samples[min(calls, len(samples)-1)]
		calls++
		return s, nil
	}, func() bool { toggles++; return toggles%2 == 1 }, topView{Interval: time.Second})

	// Init polls; its message makes the first frame and schedules a tick.
	msg := m.Init()()
	if _, cmd := m.Update(msg); cmd == nil {
		t.Fatal("no tick after a sample")
	}
	if v := m.View().Content; !strings.Contains(v, "first") || !strings.Contains(v, "q: quit") {
		t.Errorf("first frame:\n%s", v)
	}
	// The tick polls again.
	_, cmd := m.Update(topTickMsg{})
	m.Update(cmd())
	if row := topRow(t, m.View().Content, "first"); row[4] != "300" || row[5] != "100%" {
		t.Errorf("first's row after two samples: %q", row)
	}

	// s cycles chain -> rate -> name -> chain; 2 picks rate.
	for _, want := range []topSort{sortRate, sortName, sortChain} {
		m.Update(tea.KeyPressMsg{Code: 's', Text: "s"})
		if m.view.Sort != want {
			t.Fatalf("after s: sort %s, want %s", m.view.Sort, want)
		}
		if !strings.Contains(m.View().Content, "sort: "+want.String()) {
			t.Errorf("the header does not show sort %s", want)
		}
	}
	m.Update(tea.KeyPressMsg{Code: '2', Text: "2"})
	if m.view.Sort != sortRate {
		t.Errorf("after 2: sort %s", m.view.Sort)
	}

	// p switches profiling, each time.
	m.Update(tea.KeyPressMsg{Code: 'p', Text: "p"})
	m.Update(tea.KeyPressMsg{Code: 'p', Text: "p"})
	if toggles != 2 {
		t.Errorf("p twice switched profiling %d times", toggles)
	}

	m.Update(tea.WindowSizeMsg{Width: 60, Height: 3})
	if lines := strings.Split(m.View().Content, "\n"); len(lines) != 3 {
		t.Errorf("a 3-line window gets %d lines", len(lines))
	}

	// A failed poll shows the error over the last frame.
	m.sample = func() (topSample, error) { return topSample{}, errors.New("daemon gone") }
	m.Update(topSampleMsg{err: errors.New("daemon gone")})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if v := m.View().Content; !strings.Contains(v, "error: daemon gone") || !strings.Contains(v, "first") {
		t.Errorf("after a failed poll:\n%s", v)
	}

	for _, key := range []tea.KeyPressMsg{
		{Code: 'q', Text: "q"},
		{Code: 'c', Mod: tea.ModCtrl},
		{Code: tea.KeyEsc},
	} {
		_, cmd := m.Update(key)
		if cmd == nil {
			t.Fatalf("%s does not quit", key)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", key)
		}
	}
}
