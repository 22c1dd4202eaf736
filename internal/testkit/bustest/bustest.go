// Package bustest receives the lifecycle events a test's transitions publish: an event bus
// of the test's own in the AWS API emulator (AWS_ENDPOINT_URL), with a rule that sends the
// product's events to an SQS queue, the real publisher (internal/outbox) to drain the
// outbox onto it, and each event's JSON Schema to hold it to. It is imported by tests only.
package bustest

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/healthstack/tenant-provisioning/internal/outbox"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
)

// Bus is an event bus of the test's own whose product events land in a queue.
type Bus struct {
	Name     string
	Client   *eventbridge.Client
	SQS      *sqs.Client
	QueueURL string
}

// New creates the bus, the queue and the rule between them (matching outbox.Source), all
// removed when the test ends.
func New(t testing.TB) *Bus {
	t.Helper()
	ctx := context.Background()
	cfg := awstest.Config(t)
	b := &Bus{Name: awstest.UniqueName("events"), Client: eventbridge.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg)}
	_, err := b.Client.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(b.Name)})
	if err != nil {
		t.Fatalf("bustest: create event bus: %v", err)
	}
	t.Cleanup(func() {
		_, _ = b.Client.DeleteEventBus(context.Background(), &eventbridge.DeleteEventBusInput{Name: aws.String(b.Name)})
	})
	q, err := b.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(b.Name)})
	if err != nil {
		t.Fatalf("bustest: create queue: %v", err)
	}
	b.QueueURL = aws.ToString(q.QueueUrl)
	t.Cleanup(func() { _, _ = b.SQS.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	attrs, err := b.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("bustest: queue ARN: %v", err)
	}
	pattern, _ := json.Marshal(map[string][]string{"source": {outbox.Source}})
	rule := b.Name + "-all"
	if _, err := b.Client.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(b.Name),
		EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatalf("bustest: put rule: %v", err)
	}
	if _, err := b.Client.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(b.Name),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatalf("bustest: put target: %v", err)
	}
	return b
}

// Publisher is the real publisher of st's outbox onto the bus.
func (b *Bus) Publisher(st *store.Store, log *slog.Logger) *outbox.Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &outbox.Publisher{Store: st, Bus: b.Client, BusName: b.Name, Log: log}
}

// Received is one event as the queue got it: EventBridge's envelope and its Detail, the
// CloudEvent.
type Received struct {
	Source, DetailType string
	Detail             json.RawMessage
	Event              outbox.Event
}

// Drain publishes what st's outbox holds (one run, which must succeed) and answers every
// event the queue received meanwhile, in the order received.
func (b *Bus) Drain(t testing.TB, st *store.Store) []Received {
	t.Helper()
	rep, err := b.Publisher(st, nil).Publish(context.Background(), outbox.Input{})
	if err != nil {
		t.Fatalf("bustest: publish: %v (%+v)", err, rep)
	}
	return b.Receive(t, rep.Published)
}

// Receive answers the events the queue holds: at least want of them (waiting up to ten
// seconds for them), then whatever else arrives within a second.
func (b *Bus) Receive(t testing.TB, want int) []Received {
	t.Helper()
	var out []Received
	deadline := time.Now().Add(10 * time.Second)
	quiet := 0
	for (len(out) < want && time.Now().Before(deadline)) || (len(out) >= want && quiet < 1) {
		wait := int32(1)
		msgs, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.QueueURL),
			MaxNumberOfMessages: 10, WaitTimeSeconds: wait})
		if err != nil {
			t.Fatalf("bustest: receive: %v", err)
		}
		if len(msgs.Messages) == 0 {
			if len(out) >= want {
				quiet++
			}
			continue
		}
		for _, m := range msgs.Messages {
			var env struct {
				Source     string          `json:"source"`
				DetailType string          `json:"detail-type"`
				Detail     json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
				t.Fatalf("bustest: a message that is no EventBridge event: %v", err)
			}
			r := Received{Source: env.Source, DetailType: env.DetailType, Detail: env.Detail}
			if err := json.Unmarshal(env.Detail, &r.Event); err != nil {
				t.Fatalf("bustest: a detail that is no CloudEvent: %v: %s", err, env.Detail)
			}
			out = append(out, r)
			_, _ = b.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(b.QueueURL),
				ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(out) < want {
		t.Fatalf("bustest: the queue received %d events, the publisher sent %d", len(out), want)
	}
	return out
}

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema
	schemasErr  error
)

// Schema is the compiled JSON Schema of an event type (outbox.Schemas); ok is false for a
// type without one.
func Schema(t testing.TB, typ string) (*jsonschema.Schema, bool) {
	t.Helper()
	schemasOnce.Do(func() { schemas, schemasErr = compileSchemas() })
	if schemasErr != nil {
		t.Fatalf("bustest: %v", schemasErr)
	}
	s, ok := schemas[typ]
	return s, ok
}

func compileSchemas() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := fs.Glob(outbox.Schemas, "schemas/*.json")
	if err != nil {
		return nil, err
	}
	out := map[string]*jsonschema.Schema{}
	for _, f := range files {
		raw, err := fs.ReadFile(outbox.Schemas, f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		typ := strings.TrimSuffix(strings.TrimPrefix(f, "schemas/"), ".json")
		url := "https://schemas.healthstack.invalid/" + typ + ".json"
		if err := c.AddResource(url, doc); err != nil {
			return nil, err
		}
		if out[typ], err = c.Compile(url); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Valid fails t unless the event's detail is valid against its type's schema and carries
// the type it was sent as.
func Valid(t testing.TB, r Received) {
	t.Helper()
	if r.Source != outbox.Source || r.DetailType != r.Event.Type {
		t.Errorf("event %s: source %q, detail-type %q; want %q and its type %q", r.Event.ID, r.Source, r.DetailType, outbox.Source, r.Event.Type)
	}
	s, ok := Schema(t, r.Event.Type)
	if !ok {
		t.Errorf("event %s: type %q has no schema", r.Event.ID, r.Event.Type)
		return
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Detail))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(doc); err != nil {
		t.Errorf("event %s (%s) is not valid against its schema: %v\n%s", r.Event.ID, r.Event.Type, err, r.Detail)
	}
}

// OfType is the events of type typ among evs.
func OfType(evs []Received, typ string) []Received {
	var out []Received
	for _, e := range evs {
		if e.Event.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// EventsOf is the events of type typ among evs.
func EventsOf(evs []outbox.Event, typ string) []outbox.Event {
	var out []outbox.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
