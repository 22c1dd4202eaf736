// Package outbox publishes the product's lifecycle events. The control plane's triggers
// write one event per transition into the outbox table, in the transaction that makes it
// (store migration 016); the Publisher sends them to an EventBridge bus after commit, as
// CloudEvents, and marks them published. Delivery is at least once: a run stopped between
// sending and marking sends the same events again, with the same ids, for consumers to
// deduplicate on. The types and their JSON Schemas: README.md and schemas/.
package outbox

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// Source is every event's CloudEvents source and EventBridge source: a rule matches the
// product's events on it.
const Source = "urn:healthstack:tenant-provisioning"

// SpecVersion is the CloudEvents version of the events.
const SpecVersion = "1.0"

// The event types (CloudEvents type, EventBridge detail-type), as the triggers write them.
const (
	TenantReserved            = "com.healthstack.tenant.reserved"
	TenantProvisioningStarted = "com.healthstack.tenant.provisioning.started"
	TenantActivated           = "com.healthstack.tenant.activated"
	TenantFailed              = "com.healthstack.tenant.failed"
	TenantArchived            = "com.healthstack.tenant.archived"
	TenantRetried             = "com.healthstack.tenant.retried"
	AdminActivated            = "com.healthstack.tenant.admin.activated"
	UpgradeRunFinished        = "com.healthstack.upgrade.run.finished"
)

// Types lists every event type; each has its schema, schemas/<type>.json.
var Types = []string{TenantReserved, TenantProvisioningStarted, TenantActivated, TenantFailed, TenantArchived,
	TenantRetried, AdminActivated, UpgradeRunFinished}

// Schemas holds the JSON Schema (draft 2020-12) of each type's CloudEvent, schemas/<type>.json.
//
//go:embed schemas/*.json
var Schemas embed.FS

// Event is an event as the bus carries it, in its Detail: a CloudEvent in JSON form.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	// RequestID is the admin API request that made the transition, or started the
	// execution whose step made it (a CloudEvents extension attribute); absent for the
	// reconciler's and upgrades'.
	RequestID string          `json:"requestid,omitempty"`
	Data      json.RawMessage `json:"data"`
}

// FromOutbox is the CloudEvent of an outbox row.
func FromOutbox(e store.OutboxEvent) Event {
	return Event{SpecVersion: SpecVersion, ID: e.ID.String(), Source: Source, Type: e.Type, Subject: e.Subject.String(),
		Time: e.Time.UTC(), DataContentType: "application/json", RequestID: e.RequestID, Data: e.Data}
}

// Bus is the part of the EventBridge client the publisher uses (*eventbridge.Client).
type Bus interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// BatchSize is how many events one PutEvents call sends: EventBridge's most.
const BatchSize = 10

// A PutEvents call waits at most its SendTimeout (DefaultSendTimeout), and a batch is begun
// only while that and MarkTime, for claiming and marking, remain before the run's deadline.
const (
	DefaultSendTimeout = 10 * time.Second
	MarkTime           = 5 * time.Second
)

// Publisher is the publish function: it sends the outbox's events to the bus BusName.
type Publisher struct {
	Store   *store.Store
	Bus     Bus
	BusName string
	Log     *slog.Logger
	// SendTimeout bounds each PutEvents call; 0 is DefaultSendTimeout.
	SendTimeout time.Duration
}

// Input is what the schedule sends: nothing the run depends on.
type Input struct{}

// Report says what one run did.
type Report struct {
	Published int `json:"published"`
	// Refused counts the events the bus refused (an entry's ErrorCode): they stay in the
	// outbox for the next run.
	Refused int `json:"refused"`
	// More says the run stopped at its deadline, not at the end of the outbox: the next run
	// goes on.
	More bool `json:"more"`
}

// Publish sends the unpublished events in seq order, BatchSize at a time, each batch in
// one transaction: claimed (FOR UPDATE SKIP LOCKED), sent with one PutEvents call, and
// those the bus accepted marked published. Events the bus refuses are left for the next
// run, which also sends them again when this one stops between the call and the commit.
// Each event is looked at once a run, so one the bus keeps refusing holds up no other. The
// run stops before a batch it could not finish before its deadline.
//
// The batch's transaction stays open across the call to EventBridge, which the steps never
// do: here it holds only the claimed outbox rows, which nothing but a publisher locks (the
// triggers insert new rows), and the call is bounded by SendTimeout.
//
// It fails with a TransientError when the bus cannot be reached or refused some event,
// after doing what it could, so that the function's errors alarm tells an operator.
func (p *Publisher) Publish(ctx context.Context, _ Input) (Report, error) {
	var rep Report
	var after int64
	for {
		if d, ok := ctx.Deadline(); ok && time.Until(d) < p.sendTimeout()+MarkTime {
			rep.More = true
			break
		}
		n, last, err := p.batch(ctx, after, &rep)
		if err != nil {
			p.logRun(ctx, rep)
			return rep, err
		}
		if n < BatchSize {
			break
		}
		after = last
	}
	p.logRun(ctx, rep)
	if rep.Refused > 0 {
		return rep, &fault.TransientError{Op: "publish events",
			Msg: fmt.Sprintf("the bus refused %d events; they stay in the outbox for the next run", rep.Refused)}
	}
	return rep, nil
}

// batch claims, sends and marks one batch after seq after, and answers how many it
// claimed and the last one's seq.
func (p *Publisher) batch(ctx context.Context, after int64, rep *Report) (claimed int, last int64, err error) {
	var published, refused int
	err = p.Store.InTx(ctx, func(tx *store.Tx) error {
		evs, err := tx.ClaimEvents(ctx, after, BatchSize)
		if err != nil || len(evs) == 0 {
			return err
		}
		claimed, last = len(evs), evs[len(evs)-1].Seq
		entries := make([]types.PutEventsRequestEntry, len(evs))
		for i, e := range evs {
			detail, err := json.Marshal(FromOutbox(e))
			if err != nil {
				return &fault.InvariantError{Op: "publish events", Msg: "cannot render event " + e.ID.String(), Err: err}
			}
			entries[i] = types.PutEventsRequestEntry{Source: aws.String(Source), DetailType: aws.String(e.Type),
				Detail: aws.String(string(detail)), EventBusName: aws.String(p.BusName), Time: aws.Time(e.Time)}
		}
		sendCtx, cancel := context.WithTimeout(ctx, p.sendTimeout())
		out, err := p.Bus.PutEvents(sendCtx, &eventbridge.PutEventsInput{Entries: entries})
		cancel()
		if err != nil {
			return fault.FromAWS("put events", err, nil)
		}
		if len(out.Entries) != len(evs) {
			return &fault.InvariantError{Op: "put events",
				Msg: fmt.Sprintf("the bus answered %d entries for %d events", len(out.Entries), len(evs))}
		}
		sent := make([]uuid.UUID, 0, len(evs))
		for i, r := range out.Entries {
			if r.ErrorCode != nil {
				refused++
				// The code only: the message may quote the event.
				p.Log.WarnContext(ctx, "event refused by the bus; left for the next run",
					"eventId", evs[i].ID.String(), "eventType", evs[i].Type, "errorCode", aws.ToString(r.ErrorCode))
				continue
			}
			sent = append(sent, evs[i].ID)
		}
		published = len(sent)
		return tx.MarkPublished(ctx, sent)
	})
	if err != nil {
		return 0, 0, err
	}
	rep.Published += published
	rep.Refused += refused
	return claimed, last, nil
}

func (p *Publisher) logRun(ctx context.Context, rep Report) {
	if rep.Published+rep.Refused > 0 || rep.More {
		p.Log.InfoContext(ctx, "events published", "published", rep.Published, "refused", rep.Refused, "more", rep.More)
	}
}

func (p *Publisher) sendTimeout() time.Duration {
	if p.SendTimeout > 0 {
		return p.SendTimeout
	}
	return DefaultSendTimeout
}
