package api_test

import (
	"bytes"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

type listResponse struct {
	Total           int64 `json:"total"`
	TotalIsEstimate bool  `json:"totalIsEstimate"`
	Tenants         []struct {
		ID            uuid.UUID `json:"id"`
		Name          string    `json:"name"`
		Status        string    `json:"status"`
		SchemaName    *string   `json:"schemaName"`
		SchemaVersion *int32    `json:"schemaVersion"`
		SchemaCurrent bool      `json:"schemaCurrent"`
		CreatedAt     time.Time `json:"createdAt"`
		UpdatedAt     time.Time `json:"updatedAt"`
	} `json:"tenants"`
	NextCursor *string `json:"nextCursor"`
}

func (e *env) list(t *testing.T, query string) listResponse {
	t.Helper()
	var l listResponse
	e.do(t, nil, request("GET", "/admin/tenants"+query)).status(200).decode(&l)
	return l
}

func TestListTenants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var pending []uuid.UUID
	for range 3 {
		pending = append(pending, e.create(t, e.name("Listed")))
	}
	active := e.active(t, "Listed Active")
	failed := e.failed(t, "Listed Failed")
	newestFirst := []uuid.UUID{failed, active, pending[2], pending[1], pending[0]}

	ids := func(l listResponse) []uuid.UUID {
		var out []uuid.UUID
		for _, tn := range l.Tenants {
			out = append(out, tn.ID)
		}
		return out
	}

	t.Run("default page", func(t *testing.T) {
		t.Parallel()
		l := e.list(t, "")
		if l.Total != 5 || !slices.Equal(ids(l), newestFirst) || l.NextCursor != nil {
			t.Errorf("list = total %d, ids %v, next %v", l.Total, ids(l), l.NextCursor)
		}
		for _, tn := range l.Tenants {
			if tn.ID == active && (tn.Status != "ACTIVE" || tn.SchemaName == nil) {
				t.Errorf("active tenant listed as %+v", tn)
			}
			if tn.ID == pending[0] && (tn.Status != "PENDING" || tn.SchemaName != nil || tn.Name != "Listed 1") {
				t.Errorf("pending tenant listed as %+v", tn)
			}
		}
	})

	t.Run("pages of two", func(t *testing.T) {
		t.Parallel()
		var got []uuid.UUID
		query := "?limit=2"
		for page := 0; ; page++ {
			l := e.list(t, query)
			if len(l.Tenants) > 2 || l.Total != 5 {
				t.Fatalf("page %d: %d items, total %d", page, len(l.Tenants), l.Total)
			}
			got = append(got, ids(l)...)
			if l.NextCursor == nil {
				break
			}
			query = "?limit=2&cursor=" + url.QueryEscape(*l.NextCursor)
		}
		if !slices.Equal(got, newestFirst) {
			t.Errorf("ids = %v, want %v", got, newestFirst)
		}
	})

	filters := []struct {
		query string
		want  []uuid.UUID
	}{
		{"?status=PENDING", []uuid.UUID{pending[2], pending[1], pending[0]}},
		{"?status=active", []uuid.UUID{active}},
		{"?status=Failed&limit=100", []uuid.UUID{failed}},
		{"?status=ARCHIVED", nil},
		{"?status=&limit=&cursor=", newestFirst},
	}
	for _, tt := range filters {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			l := e.list(t, tt.query)
			if !slices.Equal(ids(l), tt.want) || l.Total != int64(len(tt.want)) {
				t.Errorf("ids %v total %d, want %v", ids(l), l.Total, tt.want)
			}
		})
	}

	first := e.list(t, "?limit=1")
	firstPending := e.list(t, "?limit=1&status=PENDING")
	invalid := []struct {
		name, query string
		field       string
	}{
		{"limit zero", "?limit=0", "limit"},
		{"limit over 100", "?limit=101", "limit"},
		{"limit negative", "?limit=-1", "limit"},
		{"limit not a number", "?limit=ten", "limit"},
		{"limit repeated", "?limit=1&limit=2", "limit"},
		{"limit float", "?limit=1.5", "limit"},
		{"unknown status", "?status=DELETED", "status"},
		{"two statuses", "?status=ACTIVE&status=FAILED", "status"},
		{"unicode status", "?status=act%C4%B1ve", "status"},
		{"unknown parameter", "?stauts=ACTIVE", "query"},
		{"garbage cursor", "?cursor=abc", "cursor"},
		{"cursor replayed with a filter", "?status=ACTIVE&cursor=" + url.QueryEscape(*first.NextCursor), "cursor"},
		{"filtered cursor without its filter", "?cursor=" + url.QueryEscape(*firstPending.NextCursor), "cursor"},
		{"filtered cursor with another filter", "?status=FAILED&cursor=" + url.QueryEscape(*firstPending.NextCursor), "cursor"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request("GET", "/admin/tenants"+tt.query)
			for k, v := range req.QueryStringParameters { // API Gateway hands them over decoded
				req.QueryStringParameters[k], _ = url.QueryUnescape(v)
			}
			p := e.do(t, nil, req).problem(400, "validation")
			if !slices.Equal(p.fields(), []string{tt.field}) {
				t.Errorf("fields = %v, want [%s]", p.fields(), tt.field)
			}
		})
	}

	t.Run("cursor from the same filter in another case", func(t *testing.T) {
		t.Parallel()
		l := e.list(t, "?limit=1&status=pending&cursor="+url.QueryEscape(*firstPending.NextCursor))
		if !slices.Equal(ids(l), []uuid.UUID{pending[1]}) {
			t.Errorf("ids = %v", ids(l))
		}
	})
}

// TestListTenantsWhileInserting pages through the list while other requests keep onboarding
// tenants: every tenant that existed before the first page comes back exactly once, in
// order, and the totals only grow.
func TestListTenantsWhileInserting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const before, writers, each = 40, 4, 10
	existing := map[uuid.UUID]bool{}
	for range before {
		existing[e.create(t, e.name("Before"))] = true
	}

	// Each page lets every writer onboard one more tenant, so inserts land between pages
	// as well as during them.
	var wg sync.WaitGroup
	tick := make(chan struct{})
	statuses := make(chan int, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				<-tick
				statuses <- e.do(t, nil, createRequest(registrationJSON(e.name("During")))).StatusCode
			}
		})
	}

	seen := map[uuid.UUID]int{}
	var order []listResponse
	query := "?limit=7"
	lastTotal := int64(0)
	for {
		l := e.list(t, query)
		if l.Total < lastTotal || l.Total < before || l.Total > before+writers*each {
			t.Errorf("total %d after %d", l.Total, lastTotal)
		}
		lastTotal = l.Total
		order = append(order, l)
		for _, tn := range l.Tenants {
			seen[tn.ID]++
		}
		if l.NextCursor == nil {
			break
		}
		query = "?limit=7&cursor=" + url.QueryEscape(*l.NextCursor)
		for range writers {
			tick <- struct{}{}
		}
	}
	close(tick) // the rest of the writes need not wait for pages
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 202 {
			t.Errorf("concurrent create answered %d", s)
		}
	}

	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
	for id := range existing {
		if seen[id] != 1 {
			t.Errorf("%s existed before the first page but was listed %d times", id, seen[id])
		}
	}
	var prev *struct {
		at time.Time
		id uuid.UUID
	}
	for _, l := range order {
		for _, tn := range l.Tenants {
			if prev != nil && (tn.CreatedAt.After(prev.at) || tn.CreatedAt.Equal(prev.at) && bytes.Compare(tn.ID[:], prev.id[:]) >= 0) {
				t.Errorf("%s is not after %s in (createdAt, id) descending order", tn.ID, prev.id)
			}
			prev = &struct {
				at time.Time
				id uuid.UUID
			}{tn.CreatedAt, tn.ID}
		}
	}
	if final := e.list(t, "?limit=1"); final.Total != before+writers*each {
		t.Errorf("final total %d, want %d", final.Total, before+writers*each)
	}
}
