package dns_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/ssakit/ssakit/example/minimal/dns"
)

func TestMemory_UpsertMakesAndChangesTheOwnersRecord(t *testing.T) {
	g := NewWithT(t)
	m := dns.NewMemory(time.Minute)

	g.Expect(m.Upsert(t.Context(), "a.example.com", "192.0.2.1", "site-1")).To(Succeed())
	g.Expect(m.Upsert(t.Context(), "a.example.com", "192.0.2.2", "site-1")).To(Succeed())

	address, ok := m.Resolve("a.example.com")
	g.Expect(ok).To(BeTrue())
	g.Expect(address).To(Equal("192.0.2.2"))
}

func TestMemory_AnotherOwnersRecordIsNeitherChangedNorDeleted(t *testing.T) {
	g := NewWithT(t)
	m := dns.NewMemory(0)
	g.Expect(m.Upsert(t.Context(), "a.example.com", "192.0.2.1", "site-1")).To(Succeed())

	g.Expect(m.Upsert(t.Context(), "a.example.com", "192.0.2.2", "site-2")).To(MatchError(dns.ErrTaken))
	wait, err := m.Delete(t.Context(), "a.example.com", "site-2")

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(wait).To(BeZero(), "nothing of site-2's to wait for")
	address, ok := m.Resolve("a.example.com")
	g.Expect(ok).To(BeTrue())
	g.Expect(address).To(Equal("192.0.2.1"))
}

func TestMemory_DeleteTakesDeleteDelay(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := dns.NewMemory(10 * time.Second)
	m.Now = func() time.Time { return now }
	g.Expect(m.Upsert(t.Context(), "a.example.com", "192.0.2.1", "site-1")).To(Succeed())

	g.Expect(m.Delete(t.Context(), "a.example.com", "site-1")).To(Equal(10 * time.Second))
	now = now.Add(4 * time.Second)
	g.Expect(m.Delete(t.Context(), "a.example.com", "site-1")).To(Equal(6*time.Second), "asking again does not start over")
	_, ok := m.Resolve("a.example.com")
	g.Expect(ok).To(BeTrue(), "the record resolves until its deletion completes")

	now = now.Add(6 * time.Second)
	g.Expect(m.Delete(t.Context(), "a.example.com", "site-1")).To(BeZero())
	_, ok = m.Resolve("a.example.com")
	g.Expect(ok).To(BeFalse())
	g.Expect(m.Delete(t.Context(), "a.example.com", "site-1")).To(BeZero(), "a record that is gone stays gone")
}
