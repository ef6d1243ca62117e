package main

import (
	"time"

	tea "charm.land/bubbletea/v2"
)

// topModel is the live view of `xdpchain top` (a bubbletea model): it
// samples the chains every interval and draws the rates between the last
// two samples.
type topModel struct {
	// sample polls the chains; it runs in bubbletea's command goroutines
	// and must not touch the model.
	sample func() (topSample, error)
	// toggleProfile switches profiling on or off (from the next poll).
	toggleProfile func() bool
	view          topView
	prev          *topSample
	frame         topFrame
}

// topSampleMsg carries a poll's result to Update.
type topSampleMsg struct {
	sample topSample
	err    error
}

// topTickMsg asks for the next poll.
type topTickMsg struct{}

func newTopModel(sample func() (topSample, error), toggleProfile func() bool, v topView) *topModel {
	v.Interactive = true
	return &topModel{sample: sample, toggleProfile: toggleProfile, view: v}
}

// Init implements tea.Model: the first poll at once.
func (m *topModel) Init() tea.Cmd { return m.poll }

func (m *topModel) poll() tea.Msg {
	s, err := m.sample()
	return topSampleMsg{s, err}
}

// Update implements tea.Model. q, Esc and Ctrl-C quit; s cycles the sort
// order, 1, 2, 3 pick one (chain, rate, name); p switches profiling.
func (m *topModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch k := msg.String(); k {
		case "q", "Q", "esc", "ctrl+c":
			return m, tea.Quit
		case "s", "S":
			m.view.Sort = (m.view.Sort + 1) % topSorts
		case "1", "2", "3":
			m.view.Sort = topSort(k[0] - '1')
		case "p", "P":
			if m.toggleProfile != nil {
				m.toggleProfile()
			}
		}
	case tea.WindowSizeMsg:
		m.view.Width, m.view.Height = msg.Width, msg.Height
	case topSampleMsg:
		// A failed poll keeps the last frame under its error; the next
		// one's rates are over the longer interval.
		m.view.Err = msg.err
		if msg.err == nil {
			m.frame = computeFrame(m.prev, msg.sample)
			m.prev = &msg.sample
		}
		return m, tea.Tick(m.view.Interval, func(time.Time) tea.Msg { return topTickMsg{} })
	case topTickMsg:
		return m, m.poll
	}
	return m, nil
}

// View implements tea.Model: the frame, on the alternate screen.
func (m *topModel) View() tea.View {
	v := tea.NewView(renderFrame(m.frame, m.view))
	v.AltScreen = true
	return v
}
