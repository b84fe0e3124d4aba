package importer

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// The demo workspace: the support team of Tandem, a fictional shift-scheduling and
// time-tracking product, with its people, channels, customers, three months of conversations,
// tickets, ratings and a help center. Everything is generated here from a fixed seed; the
// help-center articles are embedded markdown.

//go:embed demo/*.md
var demoArticles embed.FS

// DemoSeed is the fixed seed of the demo's generator: every demo workspace has the same
// people, customers and conversations (their dates follow the day it is created).
const DemoSeed = 20260101

// SeedResult tells what SeedDemo did.
type SeedResult struct {
	Workspace     nubiq.Workspace
	Created       bool // false: a workspace of that name existed and nothing was done
	Members       int
	Teams         int
	Channels      int
	Contacts      int64
	Conversations int64
	Messages      int64
	Tickets       int64
	Ratings       int
	Articles      int
}

// SeedDemo creates the demo workspace named name, in one transaction: either all of it
// exists afterwards or none. When a workspace of that name exists already it does nothing
// and returns Created false. now anchors the conversations' dates (the last 90 days).
func SeedDemo(ctx context.Context, db *postgres.DB, name string, now time.Time) (*SeedResult, error) {
	if name == "" {
		name = "Demo"
	}
	if w, err := db.FindWorkspace(ctx, name); err == nil && strings.EqualFold(w.Name, name) {
		return &SeedResult{Workspace: *w}, nil
	} else if err != nil && nubiq.ErrorCode(err) != nubiq.ECodeNotFound {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second)
	g := newDemoGen(now)
	res := &SeedResult{Created: true}
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		w, err := db.SeedWorkspaceTx(ctx, tx, name, "pro")
		if err != nil {
			return err
		}
		res.Workspace = *w
		memberIDs, err := db.SeedMembersTx(ctx, tx, w.ID, g.members)
		if err != nil {
			return err
		}
		res.Members = len(g.members)
		if err := db.SeedTeamsTx(ctx, tx, w.ID, g.teams, memberIDs); err != nil {
			return err
		}
		res.Teams = len(g.teams)
		channelIDs, err := db.SeedChannelsTx(ctx, tx, w.ID, g.channels)
		if err != nil {
			return err
		}
		res.Channels = len(g.channels)
		if err := db.SeedWidgetTx(ctx, tx, w.ID, channelIDs["Website chat"], "Website widget", g.widget); err != nil {
			return err
		}
		cc, rowErrs, err := db.ImportContactsTx(ctx, tx, w.ID, g.contacts)
		if err != nil {
			return err
		}
		if len(rowErrs) > 0 {
			return fmt.Errorf("demo contact %d: %s", rowErrs[0].Index, rowErrs[0].Reason)
		}
		res.Contacts = cc.Created
		conv, err := db.ImportConversationsTx(ctx, tx, w.ID, g.conversations)
		if err != nil {
			return err
		}
		if len(conv.Warnings) > 0 {
			return fmt.Errorf("demo conversation %d: %s", conv.Warnings[0].Index, conv.Warnings[0].Reason)
		}
		res.Conversations, res.Messages = conv.Conversations.Created, conv.Messages.Created
		for _, c := range g.conversations {
			if c.Rating != nil {
				res.Ratings++
			}
		}
		tc, rowErrs, err := db.ImportTicketsTx(ctx, tx, w.ID, g.tickets)
		if err != nil {
			return err
		}
		if len(rowErrs) > 0 {
			return fmt.Errorf("demo ticket %d: %s", rowErrs[0].Index, rowErrs[0].Reason)
		}
		res.Tickets = tc.Tickets.Created
		docs, err := demoDocuments(now)
		if err != nil {
			return err
		}
		res.Articles = len(docs)
		return db.SeedDocumentsTx(ctx, tx, w.ID, docs)
	})
	if err != nil {
		return nil, fmt.Errorf("seed demo workspace: %w", err)
	}
	return res, nil
}

// demoDocuments reads the embedded help-center articles; the title is each one's first
// heading.
func demoDocuments(now time.Time) ([]postgres.SeedDocument, error) {
	var docs []postgres.SeedDocument
	err := fs.WalkDir(demoArticles, "demo", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := demoArticles.ReadFile(p)
		if err != nil {
			return err
		}
		slug := strings.TrimSuffix(strings.TrimPrefix(p, "demo/"), ".md")
		title := slug
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			if t, ok := strings.CutPrefix(sc.Text(), "# "); ok {
				title = strings.TrimSpace(t)
				break
			}
		}
		docs = append(docs, postgres.SeedDocument{
			ExternalID: "help-center/" + slug,
			Title:      title,
			MimeType:   "text/markdown",
			SourceURL:  "https://help.tandem.example/articles/" + strings.TrimLeftFunc(slug, func(r rune) bool { return unicode.IsDigit(r) || r == '-' }),
			Metadata:   map[string]string{"collection": "help-center", "product": "Tandem"},
			Raw:        raw,
			CreatedAt:  now.AddDate(0, 0, -120+len(docs)),
		})
		return nil
	})
	return docs, err
}

type demoGen struct {
	r             *rand.Rand
	now           time.Time
	members       []postgres.SeedMember
	agents        []string // emails of active agents and admins who answer
	teams         []postgres.SeedTeam
	channels      []postgres.SeedChannel
	widget        map[string]any
	contacts      []postgres.ImportContact
	conversations []postgres.ImportConversation
	tickets       []postgres.ImportTicket
}

func newDemoGen(now time.Time) *demoGen {
	g := &demoGen{r: rand.New(rand.NewPCG(DemoSeed, DemoSeed>>3)), now: now}
	g.people()
	g.setup()
	g.customers()
	g.threads()
	g.escalations()
	return g
}

func (g *demoGen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *demoGen) people() {
	start := g.now.AddDate(-1, 0, 0)
	add := func(email, name, role, status, by string, days int) {
		g.members = append(g.members, postgres.SeedMember{Email: email, Name: name, Role: role, Status: status,
			InvitedBy: by, CreatedAt: start.AddDate(0, 0, days)})
	}
	owner := "maya.chen@tandem.example"
	add(owner, "Maya Chen", "owner", "active", "", 0)
	add("jonas.weber@tandem.example", "Jonas Weber", "admin", "active", owner, 3)
	add("priya.natarajan@tandem.example", "Priya Natarajan", "admin", "active", owner, 10)
	for i, a := range [][2]string{
		{"sam.okafor@tandem.example", "Sam Okafor"}, {"lucia.romero@tandem.example", "Lucía Romero"},
		{"tom.becker@tandem.example", "Tom Becker"}, {"aiko.tanaka@tandem.example", "Aiko Tanaka"},
		{"david.levi@tandem.example", "David Levi"}, {"grace.mensah@tandem.example", "Grace Mensah"},
	} {
		add(a[0], a[1], "agent", "active", "jonas.weber@tandem.example", 20+i*30)
		g.agents = append(g.agents, a[0])
	}
	g.agents = append(g.agents, "priya.natarajan@tandem.example")
	add("noah.fischer@tandem.example", "Noah Fischer", "agent", "invited", "priya.natarajan@tandem.example", 360)
}

func (g *demoGen) setup() {
	g.teams = []postgres.SeedTeam{
		{Name: "Frontline", Description: "First response on every channel, 7am–7pm CET and ET",
			Members: []string{"sam.okafor@tandem.example", "lucia.romero@tandem.example", "tom.becker@tandem.example", "grace.mensah@tandem.example"}},
		{Name: "Billing", Description: "Invoices, plan changes and refunds",
			Members: []string{"aiko.tanaka@tandem.example", "lucia.romero@tandem.example"}},
		{Name: "Technical", Description: "Integrations, SSO, API and bug escalations",
			Members: []string{"david.levi@tandem.example", "priya.natarajan@tandem.example", "tom.becker@tandem.example"}},
	}
	g.channels = []postgres.SeedChannel{
		{Kind: "email", Name: "Support email", Config: map[string]any{"address": "support@tandem.example", "from_name": "Tandem Support",
			"smtp_host": "smtp.tandem.example", "smtp_port": 587}, Secrets: map[string]any{"smtp_password": demoSecret(g.r)}},
		{Kind: "web_widget", Name: "Website chat", Config: map[string]any{"allowed_origins": []string{"https://tandem.example", "https://app.tandem.example"}}},
		{Kind: "sms", Name: "SMS", Config: map[string]any{"from": "+14155550143", "provider": "twilio"}, Secrets: map[string]any{"auth_token": demoSecret(g.r)}},
		{Kind: "api", Name: "Partner API", Config: map[string]any{"webhook_url": "https://hooks.tandem.example/nubiq/events",
			"events": []string{"conversation.created", "message.created"}}, Secrets: map[string]any{"webhook_secret": demoSecret(g.r)}},
	}
	// The settings as widget.get reads them (nubiq.WidgetSettings).
	day := map[string]any{"open": "07:00", "close": "19:00"}
	g.widget = map[string]any{
		"greeting": "Hi there! Questions about shifts, timesheets or billing? We usually answer within 15 minutes.",
		"colour":   "#3B5BDB", "position": "bottom-right", "launcher_text": "Help", "allowed_domains": []string{},
		"business_hours": map[string]any{"timezone": "Europe/Berlin",
			"days": map[string]any{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day}},
		"pre_chat_fields": []map[string]any{{"name": "email", "label": "Your email", "type": "email", "required": true}},
	}
}

func demoSecret(r *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	for i := range b {
		b[i] = chars[r.IntN(len(chars))]
	}
	return "demo_" + string(b)
}

var (
	firstNames = []string{"Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
		"Mia", "Mateo", "Amelia", "Ethan", "Harper", "Mason", "Evelyn", "Logan", "Abigail", "Leo", "Chloe", "Aarav",
		"Fatima", "Hiroshi", "Ingrid", "Kwame", "Lena", "Marco", "Nadia", "Omar", "Paula", "Ravi", "Sofia", "Tariq",
		"Ursula", "Valentina", "Wei", "Yusuf", "Zoe", "Anders", "Bianca", "Carlos", "Dmitri", "Elif", "Felix",
		"Gabriela", "Hannah", "Ivan", "Julia", "Kenji", "Laila", "Mikael", "Nora", "Oscar", "Pia", "Rosa", "Stefan",
		"Thandiwe", "Ugo", "Vera"}
	lastNames = []string{"Smith", "Johnson", "Garcia", "Brown", "Martinez", "Nguyen", "Kim", "Patel", "Müller",
		"Schmidt", "Rossi", "Dubois", "Silva", "Kowalski", "Novak", "Andersson", "Hansen", "O'Brien", "Murphy",
		"Yamamoto", "Sato", "Chen", "Wang", "Singh", "Khan", "Okoye", "Adeyemi", "Haddad", "Cohen", "Rivera", "Lopez",
		"Fernandez", "Bianchi", "Jansen", "De Vries", "Nielsen", "Lindqvist", "Horvat", "Popescu", "Papadopoulos",
		"Walsh", "Byrne", "Costa", "Moreau", "Lambert", "Fischer", "Wagner", "Becker", "Hoffmann", "Schulz"}
	companies = []struct{ name, domain, country, phone string }{
		{"Brightside Cafés", "brightsidecafes.com", "US", "+1415"}, {"Northwind Logistics", "northwind-logistics.com", "US", "+1312"},
		{"Harbor Health Clinics", "harborhealth.org", "US", "+1617"}, {"Maple & Main Grocers", "maplemain.ca", "CA", "+1416"},
		{"Kestrel Fitness", "kestrelfit.co.uk", "GB", "+4420"}, {"Bäckerei Sonnenschein", "sonnenschein-baeckerei.de", "DE", "+4930"},
		{"Lumière Hôtels", "lumiere-hotels.fr", "FR", "+331"}, {"Verde Garden Centers", "verdegardens.com", "US", "+1503"},
		{"Polar Ice Rinks", "polarrinks.se", "SE", "+468"}, {"Atlas Warehousing", "atlaswarehousing.com", "US", "+1214"},
		{"Copperleaf Restaurants", "copperleaf.ie", "IE", "+3531"}, {"Sunrise Senior Living", "sunrise-living.com.au", "AU", "+612"},
		{"Pixel Cinemas", "pixelcinemas.nl", "NL", "+3120"}, {"Ridgeway Security", "ridgewaysecurity.com", "US", "+1404"},
		{"Tidewater Marinas", "tidewatermarinas.com", "US", "+1757"}, {"Glasshouse Retail", "glasshouse-retail.co.uk", "GB", "+44161"},
		{"Nordlicht Pflege", "nordlicht-pflege.de", "DE", "+4940"}, {"Casa Bella Pizzerias", "casabella.it", "IT", "+3902"},
		{"Summit Climbing Gyms", "summitclimb.com", "US", "+1303"}, {"Evergreen Vet Care", "evergreenvet.ca", "CA", "+1604"},
		{"Quayside Books", "quaysidebooks.ie", "IE", "+3532"}, {"Orbit Car Wash", "orbitcarwash.com", "US", "+1602"},
		{"Meridian Pharmacies", "meridianpharmacy.com.au", "AU", "+613"}, {"Fjord Seafood Market", "fjordseafood.no", "NO", "+4722"},
		{"Urban Sprout Daycare", "urbansprout.com", "US", "+1206"}, {"Helix Labs Staffing", "helixstaffing.com", "US", "+1512"},
		{"Cobalt Event Crew", "cobaltevents.co.uk", "GB", "+44117"}, {"Saffron Kitchens", "saffronkitchens.com", "US", "+1718"},
		{"Alpenrose Hotels", "alpenrose-hotels.at", "AT", "+431"}, {"Tandem Bike Repair", "bikerepair-coop.nl", "NL", "+3110"},
	}
	plans = []string{"starter", "team", "team", "team", "business", "business"}
)

func emailLocal(first, last string) string {
	r := strings.NewReplacer(" ", "", "'", "", "ü", "ue", "ö", "oe", "ä", "ae", "é", "e", "è", "e", "í", "i", "ñ", "n")
	return strings.ToLower(r.Replace(first) + "." + r.Replace(last))
}

func (g *demoGen) customers() {
	used := map[string]bool{}
	for i := 0; len(g.contacts) < 200; i++ {
		first, last := g.pick(firstNames), g.pick(lastNames)
		co := companies[g.r.IntN(len(companies))]
		email := emailLocal(first, last) + "@" + co.domain
		if used[email] {
			continue
		}
		used[email] = true
		name, company := first+" "+last, co.name
		phone := fmt.Sprintf("%s%07d", co.phone, g.r.IntN(10_000_000))
		phone = phone[:min(len(phone), 13)]
		n := len(g.contacts)
		c := postgres.ImportContact{
			ExternalID: fmt.Sprintf("cus_%05d", 10000+n*37%9000),
			Name:       &name, Email: &email, Phone: &phone, Company: &company,
			Attributes: map[string]any{
				"plan": g.pick(plans), "seats": 5 + g.r.IntN(300), "country": co.country,
				"role":       g.pick([]string{"Owner", "Operations manager", "Store manager", "HR lead", "Payroll admin", "Shift supervisor"}),
				"signed_up":  g.now.AddDate(0, -1-g.r.IntN(30), -g.r.IntN(28)).Format("2006-01-02"),
				"newsletter": g.r.IntN(3) > 0,
			},
		}
		if g.r.IntN(10) == 0 {
			c.Phone = nil // not every customer leaves a number
		}
		g.contacts = append(g.contacts, c)
	}
}

// topic is a kind of support request: how customers open it, how agents answer, how it ends.
type topic struct {
	tag      string
	team     string
	subjects []string
	openers  []string
	replies  []string
	followup []string
	closers  []string
	note     string
}

var topics = []topic{
	{tag: "time-clock", team: "Frontline",
		subjects: []string{"Can't clock in from the app", "Clock-in shows outside geofence", "Kiosk says device not registered", "Forgot to clock out yesterday"},
		openers: []string{
			"Hi, several of my staff at the downtown store can't clock in this morning. The app just spins after they tap Clock in.",
			"Our team keeps getting flagged as outside the geofence even though they're standing in the shop. What's going on?",
			"The tablet we use as a kiosk suddenly says \"Device not registered\". Nobody changed anything.",
			"One of my cooks forgot to clock out last night and now his timesheet shows 14 hours. How do I fix that?",
		},
		replies: []string{
			"Thanks for flagging this! Could you tell me which app version they're on (Profile → About)? Version 5.2.0 had a clock-in bug on some Android phones that 5.2.1 fixes.",
			"Sorry about that. The geofence radius for that location is 150 m, and GPS indoors can drift. I'd suggest raising it to 250 m under Settings → Locations → Time clock.",
			"That happens when the kiosk registration is reset, for example after an OS update. An admin can sign in on the tablet and tap Settings → Kiosk → Register this device.",
			"No problem — open Timesheets, click his row for yesterday and edit the clock-out time. Open shifts close automatically 4 hours after the scheduled end, which is where the 14 hours came from.",
		},
		followup: []string{"Updating fixed it for most of them, thanks. One person is on an old iPhone though.", "Done, that worked. Is there a way to stop this happening again?", "OK, registered again. Thanks!"},
		closers:  []string{"Great to hear it's working again. I'll close this one — just reply if anything else comes up.", "You can turn on missed clock-out reminders under Settings → Notifications so people get a nudge. Glad we sorted it!"},
		note:     "Known issue with app 5.2.0 on Android 13, fixed in 5.2.1."},
	{tag: "billing", team: "Billing",
		subjects: []string{"Question about my invoice", "Charged for people who didn't work", "Refund for duplicate payment", "Need VAT number on invoice"},
		openers: []string{
			"Hi, our invoice this month is much higher than usual. Can you explain how active people are counted?",
			"We were billed for 48 people but only 31 worked in March. Some were just invited.",
			"It looks like our card was charged twice for the April invoice. Can we get one refunded?",
			"Our accountant needs our VAT number on the invoices. Where do I add it?",
		},
		replies: []string{
			"Happy to explain! An active person is anyone with a shift or a clock event in the month. I've attached the list of the people counted on your invoice.",
			"Thanks for pointing that out. People who are only invited shouldn't be counted — I'm checking your account now.",
			"I'm sorry about that — I can see the duplicate charge. I've issued a refund; it usually reaches the card within 5–10 business days.",
			"You can add it under Settings → Billing → Details. It will appear on every invoice issued after the change; I can reissue last month's for you too.",
		},
		followup: []string{"Thanks, that makes sense now. Some shifts were scheduled by mistake.", "Could you also reissue the March invoice with the VAT number?", "Perfect, thanks for the quick help."},
		closers:  []string{"All done — you'll find the corrected invoice under Settings → Billing → Invoices.", "You're welcome! The refund has been processed on our side."},
		note:     "Refund approved by Aiko, see finance sheet."},
	{tag: "payroll", team: "Technical",
		subjects: []string{"PayFlow sync failing", "Employee not found error", "Overtime hours missing in export", "How to map earning codes"},
		openers: []string{
			"Our PayFlow sync failed with \"Authorization expired\". Payroll runs tomorrow, can you help urgently?",
			"When I send hours to Ledgerly, 4 people get \"Employee not found\".",
			"The timesheet export doesn't show overtime separately, it's all in regular hours.",
			"We just connected Paystream. How should we map paid breaks?",
		},
		replies: []string{
			"Understood, let's get this done today. Connections to PayFlow expire after 90 days — please reconnect under Settings → Integrations, then send the hours again.",
			"Those people aren't matched to Ledgerly employees yet. Under Integrations → People you can match them by hand; their emails differ between the two systems.",
			"Overtime is split only when the overtime rules are on for the location. Check Settings → Locations → Overtime, then export again.",
			"Map paid breaks to the same earning code as regular hours unless your payroll provider tracks them separately.",
		},
		followup: []string{"Reconnected and the hours went through. Phew!", "Matched them, all good now.", "Overtime rules were off for our new location. Fixed."},
		closers:  []string{"Glad payroll is back on track! Closing this one.", "Great — let us know if the next pay period gives you any trouble."},
		note:     "Customer on Business plan, payroll deadline — prioritise."},
	{tag: "scheduling", team: "Frontline",
		subjects: []string{"Shift swap stuck on pending", "Copy previous week skipped people", "Open shifts not visible to staff", "Publish changes not notifying"},
		openers: []string{
			"A swap between two of my baristas has been pending for two days. Both accepted it.",
			"I used Copy previous week but three people have no shifts in the new week.",
			"I posted open shifts for the weekend, but my staff say they can't see them in the app.",
			"I edited a published shift but the employee never got a notification.",
		},
		replies: []string{
			"Your workspace requires manager approval for swaps within 24 hours. A manager of that location can approve it under Requests.",
			"Copy previous week skips people with approved time off in the new week — those three have time off booked.",
			"Open shifts are only shown to people with the same role at that location. Could you check the roles of the people who can't see them?",
			"Edits to a published shift stay as drafts until you click Publish changes — then the people affected are notified.",
		},
		followup: []string{"Ah, I missed the Requests tab. Approved now.", "Right, that explains it. Thanks!", "Their role was missing. Works now."},
		closers:  []string{"Happy scheduling! I'll mark this as resolved.", "Glad it's sorted. Have a good week!"},
		note:     "Suggested a product improvement: show pending approvals on the schedule."},
	{tag: "account-access", team: "Frontline",
		subjects: []string{"Locked out after 2FA phone lost", "Password reset email not arriving", "Too many attempts message", "Change account owner"},
		openers: []string{
			"I got a new phone and lost my authenticator. I'm the only admin. How do I get back in?",
			"I requested a password reset three times but no email arrives.",
			"I'm getting \"Too many attempts\" and can't sign in at all.",
			"Our owner left the company. How do we transfer the account owner role?",
		},
		replies: []string{
			"I can help. For your security we need to verify ownership: please reply from the account's email address with the last four digits of the card on file.",
			"Sorry for the trouble. Please check spam and allow no-reply@tandem.example — some company filters hold our emails. I've also resent the link.",
			"The lock lifts by itself after 15 minutes, or right away if you reset your password.",
			"The current owner can transfer it under Settings → Workspace → Owner. If they're no longer reachable, we can do it after verifying with another admin.",
		},
		followup: []string{"Here are the details you asked for.", "Found it in quarantine, our IT released it. Thanks.", "Waited 15 minutes and I'm in."},
		closers:  []string{"Verified — I've reset your 2FA. Please set it up again and save the recovery codes this time!", "Great! Closing this, reply anytime."},
		note:     "Identity verified against billing details."},
	{tag: "sso", team: "Technical",
		subjects: []string{"SAML signature validation failed", "Setting up Okta SSO", "Email not found on SSO sign-in", "Enforce SSO for managers only"},
		openers: []string{
			"Since this morning our managers get \"Signature validation failed\" when signing in with Entra ID.",
			"We'd like to set up SSO with Okta. Which attributes do you need?",
			"Some people get \"Email not found\" after signing in through Google Workspace.",
			"Can we enforce SSO for managers but let hourly staff keep signing in with their phone numbers?",
		},
		replies: []string{
			"That usually means the signing certificate rotated in Entra ID. Refreshing the metadata in Settings → Security → Single sign-on fixes it.",
			"We need email (required), firstName and lastName. The ACS URL and Entity ID are shown on the SSO settings page.",
			"The email in the SAML assertion must match the one in Tandem. Are these people using aliases?",
			"Yes — that's the default. Enforcing SSO applies to managers and admins; you can opt employees in separately.",
		},
		followup: []string{"Refreshed the metadata, everyone can sign in again.", "Okta is set up and the test sign-in worked.", "Yes they were aliases. Fixed in Google."},
		closers:  []string{"Excellent, closing this one.", "Great to hear. Let us know if you turn on JIT provisioning and need a hand."},
		note:     "SSO questions go to Technical."},
	{tag: "mobile-app", team: "Frontline",
		subjects: []string{"Schedule not updating in app", "Clock events waiting to upload", "App crashes on Android", "Notifications stopped"},
		openers: []string{
			"My staff see last week's schedule in the app even though I published the new one.",
			"Two clock-outs from Saturday still say \"Waiting to upload\".",
			"The app crashes right after login on my Samsung phone.",
			"Push notifications stopped working for me since the last update.",
		},
		replies: []string{
			"Could they pull down on the schedule to refresh? If it's still old, signing out and in clears the cache without losing clock events.",
			"Thanks — which app version is that phone on? Version 5.1 had an upload issue after long offline periods; updating usually sends the events right away.",
			"Sorry about that! Could you send us the Android version and the app version from the Play Store page?",
			"Please check that notifications for Tandem are allowed in the phone settings — updates sometimes reset the permission.",
		},
		followup: []string{"Refreshing did it. Thanks!", "Updated the app and the events uploaded.", "Android 14, app 5.2.0."},
		closers:  []string{"Glad it's working! Closing this conversation.", "Thanks — our mobile team has a fix in 5.2.2, rolling out this week."},
		note:     "Crash on Android 14 tracked in the mobile backlog."},
	{tag: "api", team: "Technical",
		subjects: []string{"Webhook signature doesn't match", "429 rate limit errors", "API pagination question", "Which scope for timesheets"},
		openers: []string{
			"We verify the Tandem-Signature header but our HMAC never matches.",
			"Our integration gets 429 errors during the nightly sync.",
			"How do I page through all shifts? I only get 100.",
			"Which API scope do I need to approve timesheets?",
		},
		replies: []string{
			"The HMAC is computed over the raw request body — if your framework parses and re-serialises the JSON first, the bytes differ. Use the raw body.",
			"The limit is 120 requests per minute per workspace. Honour the Retry-After header and the sync will pace itself.",
			"List endpoints return a next_cursor; pass it back as cursor until it's empty.",
			"You'll need timesheets:write for approvals.",
		},
		followup: []string{"Using the raw body fixed it.", "Added backoff on Retry-After, no more errors.", "Got it, thanks."},
		closers:  []string{"Great! Closing this one.", "Happy building!"},
		note:     "Developer on the customer side, technical detail OK."},
	{tag: "feature-request", team: "Frontline",
		subjects: []string{"Feature request: availability templates", "Can we export to Google Calendar?", "Request: labour cost by department", "Dark mode for the app?"},
		openers: []string{
			"It would save us hours if employees could save their weekly availability as a template.",
			"Is there a way for staff to see their shifts in Google Calendar?",
			"We'd love to see labour cost broken down by department on the schedule.",
			"Any plans for dark mode in the mobile app? Our night shift would appreciate it.",
		},
		replies: []string{
			"Thanks for the suggestion! I've passed it to our product team with your use case.",
			"Yes! Under Profile → Calendar sync each employee can subscribe to an iCal link that Google Calendar understands.",
			"Great idea — today you can filter the schedule by role to get close to it, and I've logged the request.",
			"Dark mode is on our roadmap for this year. I've added your vote.",
		},
		followup: []string{"Thanks, looking forward to it.", "Found it, works great.", "Good to know!"},
		closers:  []string{"Thanks again for the feedback!", "Have a great day!"},
		note:     "Logged in the product feedback board."},
}

var ratingComments = map[int][]string{
	5: {"Super fast and friendly, thank you!", "Solved in minutes. Great support.", "Really helpful, explained everything clearly.", "Best support team I've dealt with."},
	4: {"Good help, took a little while.", "Fixed, thanks. Would love this to be in the docs.", "Helpful answer."},
	3: {"Got there in the end.", "OK, but I had to explain the problem twice."},
	2: {"Took two days to get an answer.", "The fix works but the bug shouldn't have happened."},
	1: {"Payroll was late because of this.", "Still not fixed."},
}

// threads generates about 300 conversations spread over the last 90 days.
func (g *demoGen) threads() {
	channels := []string{"Support email", "Website chat", "Website chat", "Support email", "SMS", "Partner API"}
	for i := range 300 {
		t := topics[g.r.IntN(len(topics))]
		k := g.r.IntN(len(t.openers))
		contact := g.contacts[g.r.IntN(len(g.contacts))]
		channel := channels[g.r.IntN(len(channels))]
		// Older conversations are mostly finished; recent ones still open.
		age := time.Duration(g.r.Float64()*90*24) * time.Hour
		opened := g.now.Add(-age).Add(-time.Duration(g.r.IntN(3600)) * time.Second)
		status := "resolved"
		switch x := g.r.IntN(100); {
		case age < 3*24*time.Hour && x < 45:
			status = "open"
		case age < 7*24*time.Hour && x < 30:
			status = "pending"
		case x < 5:
			status = "snoozed"
		case x < 12:
			status = "open"
		case x < 20:
			status = "pending"
		case x < 45:
			status = "closed"
		}
		priority := []string{"low", "normal", "normal", "normal", "normal", "high", "high", "urgent"}[g.r.IntN(8)]
		if t.tag == "payroll" && priority == "normal" {
			priority = "high"
		}
		agent := g.agents[g.r.IntN(len(g.agents))]
		// First response: minutes on chat, longer by email, faster for urgent.
		firstResp := time.Duration(2+g.r.ExpFloat64()*20) * time.Minute
		if channel == "Support email" || channel == "Partner API" {
			firstResp = time.Duration(10+g.r.ExpFloat64()*150) * time.Minute
		}
		if priority == "urgent" {
			firstResp /= 3
		}
		at := opened
		msg := func(author, email, body string, private bool, after time.Duration) {
			at = at.Add(after)
			if at.After(g.now) {
				at = g.now.Add(-time.Minute)
			}
			m := postgres.ImportMessage{AuthorType: author, AuthorEmail: email, Body: body, Private: private, CreatedAt: at}
			c := &g.conversations[len(g.conversations)-1]
			c.Messages = append(c.Messages, m)
		}
		c := postgres.ImportConversation{
			ExternalID: fmt.Sprintf("demo-conv-%04d", i+1),
			Contact:    &postgres.ImportContactRef{ExternalID: contact.ExternalID},
			Channel:    channel, Subject: t.subjects[k], Status: status, Priority: priority,
			Tags: []string{t.tag}, CreatedAt: opened,
		}
		if channel == "Website chat" {
			c.Tags = append(c.Tags, "chat")
		}
		if status != "open" || g.r.IntN(3) > 0 {
			c.AssigneeEmail, c.AssigneeTeam = agent, t.team
		}
		g.conversations = append(g.conversations, c)
		if channel == "Website chat" {
			msg("bot", "", "Hi! I'm Tandem's assistant. While I find a teammate, you might find an answer in our help center.", false, 0)
		}
		msg("contact", "", t.openers[k], false, time.Duration(g.r.IntN(20))*time.Second)
		if status == "open" && g.r.IntN(2) == 0 {
			g.finish(opened, status, nil)
			continue // not answered yet
		}
		if g.r.IntN(6) == 0 {
			msg("agent", agent, t.note, true, time.Duration(1+g.r.IntN(5))*time.Minute)
		}
		msg("agent", agent, t.replies[k], false, firstResp)
		if g.r.IntN(3) > 0 {
			msg("contact", "", t.followup[g.r.IntN(len(t.followup))], false, time.Duration(5+g.r.ExpFloat64()*120)*time.Minute)
			if status == "resolved" || status == "closed" {
				msg("agent", agent, t.closers[g.r.IntN(len(t.closers))], false, time.Duration(3+g.r.ExpFloat64()*60)*time.Minute)
			}
		}
		if status == "pending" {
			msg("agent", agent, "Just checking in — did that help? I'll keep this open until I hear from you.", false, 26*time.Hour)
		}
		if status == "snoozed" {
			msg("system", "", "Conversation snoozed for 3 days.", false, time.Minute)
		}
		var rating *postgres.ImportRating
		if (status == "resolved" || status == "closed") && g.r.IntN(100) < 60 {
			score := []int{5, 5, 5, 5, 5, 4, 4, 4, 3, 2, 1}[g.r.IntN(11)]
			if priority == "urgent" && score > 3 && g.r.IntN(3) == 0 {
				score = 3
			}
			comment := ""
			if g.r.IntN(3) > 0 {
				cs := ratingComments[score]
				comment = cs[g.r.IntN(len(cs))]
			}
			rating = &postgres.ImportRating{Score: score, Comment: comment, CreatedAt: at.Add(time.Duration(5+g.r.IntN(600)) * time.Minute)}
			if rating.CreatedAt.After(g.now) {
				rating.CreatedAt = g.now
			}
		}
		g.finish(opened, status, rating)
	}
}

// finish derives the conversation's timestamps from its messages, as an import would.
func (g *demoGen) finish(opened time.Time, status string, rating *postgres.ImportRating) {
	c := &g.conversations[len(g.conversations)-1]
	var firstContact, firstResp, last time.Time
	for _, m := range c.Messages {
		if m.AuthorType == "contact" && firstContact.IsZero() {
			firstContact = m.CreatedAt
		}
		if m.AuthorType == "agent" && !m.Private && !firstContact.IsZero() && firstResp.IsZero() {
			firstResp = m.CreatedAt
		}
		last = maxTime(last, m.CreatedAt)
	}
	c.CreatedAt, c.UpdatedAt = opened, last
	c.FirstResponseAt, c.LastMessageAt = timep(firstResp), timep(last)
	if status == "resolved" || status == "closed" {
		c.ResolvedAt = timep(last)
	}
	if status == "closed" {
		closed := last.Add(24 * time.Hour)
		if closed.After(g.now) {
			closed = g.now
		}
		c.ClosedAt, c.UpdatedAt = &closed, closed
	}
	c.Rating = rating
}

// escalations turns some conversations into tickets and adds tickets of their own.
func (g *demoGen) escalations() {
	statusFor := func(convStatus string) string {
		switch convStatus {
		case "resolved":
			return []string{"solved", "solved", "closed"}[g.r.IntN(3)]
		case "closed":
			return "closed"
		case "pending":
			return "pending"
		}
		return []string{"open", "open", "on_hold"}[g.r.IntN(3)]
	}
	areas := map[string]string{"time-clock": "Time clock", "billing": "Billing", "payroll": "Integrations", "scheduling": "Scheduling",
		"account-access": "Accounts", "sso": "Security", "mobile-app": "Mobile", "api": "API", "feature-request": "Product"}
	n := 0
	for i, c := range g.conversations {
		if i%5 != 2 {
			continue
		}
		n++
		status := statusFor(c.Status)
		t := postgres.ImportTicket{
			ExternalID: fmt.Sprintf("TAN-%d", 1200+n), Subject: c.Subject,
			Description: "Escalated from conversation. Customer report:\n\n" + c.Messages[firstContactMessage(c.Messages)].Body,
			Status:      status, Priority: c.Priority, Contact: c.Contact, ConversationExternalID: c.ExternalID,
			AssigneeEmail: c.AssigneeEmail, Tags: append([]string{"escalated"}, c.Tags...),
			CustomFields: map[string]any{"area": areas[c.Tags[0]], "severity": 1 + g.r.IntN(4), "plan": g.pick(plans)},
			CreatedAt:    c.CreatedAt.Add(time.Duration(30+g.r.IntN(240)) * time.Minute),
		}
		if t.CreatedAt.After(g.now) {
			t.CreatedAt = g.now
		}
		t.UpdatedAt = t.CreatedAt.Add(time.Duration(g.r.IntN(72)) * time.Hour)
		if t.UpdatedAt.After(g.now) {
			t.UpdatedAt = g.now
		}
		if status == "solved" || status == "closed" {
			t.Resolution = "Resolved: " + strings.ToLower(c.Subject[:1]) + c.Subject[1:] + " — fix confirmed with the customer."
		}
		if status == "closed" {
			closed := t.UpdatedAt
			t.ClosedAt = &closed
		}
		g.tickets = append(g.tickets, t)
	}
	// Internal tickets without a conversation: bugs and tasks the team tracks.
	internal := []string{"Audit SMS opt-out handling for UK numbers", "Update help-center article on overtime rules",
		"Investigate slow timesheet export for 500+ people", "Translate widget greeting into German",
		"Review refund requests backlog", "Android 14 crash on login (app 5.2.0)", "Document webhook retry schedule",
		"PayFlow token expiry warning email", "Geofence radius default too small for malls", "Kiosk PIN reset flow"}
	for i, s := range internal {
		status := []string{"open", "pending", "on_hold", "solved", "closed"}[g.r.IntN(5)]
		created := g.now.Add(-time.Duration(g.r.IntN(80*24)) * time.Hour)
		t := postgres.ImportTicket{ExternalID: fmt.Sprintf("TAN-%d", 1100+i), Subject: s, Description: s + ".",
			Status: status, Priority: []string{"low", "normal", "high"}[g.r.IntN(3)],
			AssigneeEmail: g.agents[g.r.IntN(len(g.agents))], Tags: []string{"internal"},
			CustomFields: map[string]any{"area": "Internal"}, CreatedAt: created, UpdatedAt: created.Add(48 * time.Hour)}
		if t.UpdatedAt.After(g.now) {
			t.UpdatedAt = g.now
		}
		if status == "closed" {
			closed := t.UpdatedAt
			t.ClosedAt = &closed
		}
		g.tickets = append(g.tickets, t)
	}
}

func firstContactMessage(ms []postgres.ImportMessage) int {
	for i, m := range ms {
		if m.AuthorType == "contact" {
			return i
		}
	}
	return 0
}
