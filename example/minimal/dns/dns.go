// Package dns is the external system of the minimal example, simulated in memory: a DNS provider
// whose records take a while to delete, as a cloud provider's do. The Site controller makes a
// record for each Site and, in its cleanup, waits until the record is gone.
package dns

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrTaken means that a hostname's record belongs to another owner, and is left as it is.
var ErrTaken = errors.New("the hostname has a DNS record of another owner, which is left as it is: choose another hostname")

// Provider is the part of a DNS provider's API the Site controller uses. Each record has an owner
// (a Site's UID), and a record is only ever changed or deleted by its owner.
type Provider interface {
	// Upsert makes hostname resolve to address, creating the record for owner when there is
	// none. A record of another owner is ErrTaken, and is not changed.
	Upsert(ctx context.Context, hostname, address, owner string) error
	// Delete asks for owner's record of hostname to be deleted. It returns zero once the record
	// is gone (or is not owner's, which it leaves as it is), and otherwise how long to wait
	// before asking again: a deletion takes time.
	Delete(ctx context.Context, hostname, owner string) (wait time.Duration, err error)
}

// Memory is a Provider that keeps its records in memory. A record asked to be deleted goes
// DeleteDelay after the first Delete; until then it still resolves.
type Memory struct {
	// DeleteDelay is how long a record takes to go after the first Delete.
	DeleteDelay time.Duration
	// Now tells the time. Default (nil): time.Now; a test sets its own clock.
	Now func() time.Time

	mu      sync.Mutex
	records map[string]*record
}

type record struct {
	address, owner string
	// goneAt is when the record's deletion completes; zero while it is not being deleted.
	goneAt time.Time
}

// NewMemory returns an empty Memory whose records take deleteDelay to delete.
func NewMemory(deleteDelay time.Duration) *Memory {
	return &Memory{DeleteDelay: deleteDelay}
}

// Upsert implements Provider. It also cancels a deletion under way of owner's record.
func (m *Memory) Upsert(_ context.Context, hostname, address, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.lookup(hostname)
	switch {
	case r == nil:
		if m.records == nil {
			m.records = map[string]*record{}
		}
		m.records[hostname] = &record{address: address, owner: owner}
	case r.owner != owner:
		return ErrTaken
	default:
		r.address, r.goneAt = address, time.Time{}
	}
	return nil
}

// Delete implements Provider.
func (m *Memory) Delete(_ context.Context, hostname, owner string) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.lookup(hostname)
	if r == nil || r.owner != owner {
		return 0, nil
	}
	if r.goneAt.IsZero() {
		r.goneAt = m.now().Add(m.DeleteDelay)
	}
	return r.goneAt.Sub(m.now()), nil
}

// Resolve returns the address hostname resolves to, and whether it has a record.
func (m *Memory) Resolve(hostname string) (address string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.lookup(hostname); r != nil {
		return r.address, true
	}
	return "", false
}

// lookup returns hostname's record, or nil when there is none or its deletion has completed.
func (m *Memory) lookup(hostname string) *record {
	r := m.records[hostname]
	if r != nil && !r.goneAt.IsZero() && !m.now().Before(r.goneAt) {
		delete(m.records, hostname)
		return nil
	}
	return r
}

func (m *Memory) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}
