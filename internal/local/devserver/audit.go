package devserver

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

// auditChain builds the sealer and the verifier over the key and bucket of ac, in the AWS
// API emulator the environment names (make dev sets AWS_ENDPOINT_URL_KMS and
// AWS_ENDPOINT_URL_S3), each as its function's database user.
func (s *Server) auditChain(ctx context.Context, ac config.AuditChain) error {
	awsCfg, err := wiring.AWSConfig(ctx)
	if err != nil {
		return err
	}
	s.Sealer = &auditchain.Sealer{Chain: store.New(s.Stack.PoolAs(catalog.SealAudit.DBUser())), Signer: kms.NewFromConfig(awsCfg),
		Bucket: wiring.S3(awsCfg), KeyID: ac.KeyID, BucketName: ac.Bucket, Log: s.log}
	s.verifier = wiring.AuditVerifier(awsCfg, ac, store.New(s.Stack.PoolAs(catalog.VerifyAuditTrail.DBUser())))
	return nil
}

// auditRecord is a row of the audit page.
type auditRecord struct {
	ID                                         int64
	At                                         time.Time
	Actor, Action, Outcome, Problem, RequestID string
	Tenant                                     string
	Sealed                                     bool
}

// auditPage is /audit: the newest records, which of them the chain holds, and the signed
// digests' verification, as an auditor would look at them.
type auditPage struct {
	pool     *pgxpool.Pool // as the read routes' user
	verifier *auditchain.Verifier
}

var auditTemplate = template.Must(template.New("audit").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Audit trail</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left;font-size:.9em}.no{color:#b00}.yes{color:#070}</style>
</head><body>
<h1>Audit trail</h1>
<p>The newest 100 records (<code>GET /admin/audit</code> filters and pages them). A record is
<em>sealed</em> once the chain links it; the sealer signs the chain's head into the Object Lock bucket.</p>
{{with .Report}}<p>Verification of the newest digests: {{if .Verified}}<b class="yes">verified</b>{{else}}<b class="no">does not verify</b>{{end}}:
{{.Digests}} digests, links {{.From}}&ndash;{{.Head}}, {{.Unsigned}} not yet signed.
{{with .Fault}}First fault: <b class="no">{{.Fault}}</b>{{if .Seq}} at link {{.Seq}}{{end}}{{if .RecordID}} (record {{.RecordID}}){{end}}{{if .Digest}} in {{.Digest}}{{end}}.{{end}}</p>{{end}}
{{with .Error}}<p class="no">{{.}}</p>{{end}}
{{if not .Signed}}<p>No AWS API emulator: records are sealed into the chain by no one here, and not signed.</p>{{end}}
<table><tr><th>id</th><th>at</th><th>actor</th><th>action</th><th>outcome</th><th>tenant</th><th>request</th><th>sealed</th></tr>
{{range .Records}}<tr><td>{{.ID}}</td><td>{{.At.Format "2006-01-02 15:04:05.000"}}</td><td>{{.Actor}}</td><td>{{.Action}}</td>
<td>{{.Outcome}}{{with .Problem}} ({{.}}){{end}}</td><td>{{.Tenant}}</td><td>{{.RequestID}}</td><td>{{if .Sealed}}yes{{end}}</td></tr>
{{end}}</table></body></html>`))

func (p auditPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	data := struct {
		Records []auditRecord
		Report  *auditchain.Report
		Signed  bool
		Error   string
	}{Signed: p.verifier != nil}
	rows, err := p.pool.Query(ctx, `SELECT a.id, a.at, a.actor, a.action, a.outcome, coalesce(a.problem, ''),
			coalesce(a.tenant_id::text, ''), coalesce(a.request_id, ''), c.seq IS NOT NULL
		FROM audit_records a LEFT JOIN audit_chain c ON c.record_id = a.id ORDER BY a.id DESC LIMIT 100`)
	if err == nil {
		for rows.Next() {
			var a auditRecord
			if err = rows.Scan(&a.ID, &a.At, &a.Actor, &a.Action, &a.Outcome, &a.Problem, &a.Tenant, &a.RequestID, &a.Sealed); err != nil {
				break
			}
			data.Records = append(data.Records, a)
		}
		rows.Close()
		err = rows.Err()
	}
	if err != nil {
		http.Error(w, "read the audit trail: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if p.verifier != nil {
		if rep, err := p.verifier.Verify(ctx, 96); err != nil {
			data.Error = "verification failed to run: " + err.Error()
		} else {
			data.Report = &rep
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = auditTemplate.Execute(w, data)
}
