package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// corpus generates help-center text with the term statistics of real text: words drawn from
// a Zipf distribution over a vocabulary whose head is English function words, then support
// and product vocabulary, then a long tail of rarer terms (product codes, names), so that
// posting lists, document lengths and query selectivity look like a real knowledge base's.
// It is deterministic for a seed.
type corpus struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	vocab []string
	index map[string]int
}

var functionWords = strings.Fields(`the to and a of you your is in for it on that this with can be or
if are from at as not by will we have an our do how when what which any all may more use need
please after before then also only one there about into new more other some than its so each`)

var supportWords = strings.Fields(`account password reset login email address phone number card payment
refund invoice billing subscription plan upgrade downgrade cancel charge transfer balance bank
verify identity document upload download export import settings profile security two-factor
authentication code device app mobile desktop browser notification message chat support agent
ticket request order delivery shipping tracking package return exchange warranty product item
price discount coupon promotion receipt tax currency exchange-rate fee limit daily monthly
annual team member invite role permission admin owner workspace project integration api key
webhook token endpoint error timeout retry status pending failed completed approved declined
blocked locked unlock restore backup sync calendar contact customer company report dashboard
analytics chart filter search result page setting language region time zone format file image
video attachment size storage quota usage alert reminder schedule meeting booking appointment
location store branch address-change name-change statement pdf csv spreadsheet template workflow
automation rule trigger condition action field value default custom label tag category folder
share link access guest public private archive delete remove restore trash history log audit
compliance privacy gdpr consent cookie data retention policy terms agreement contract renewal
trial free premium business enterprise seat license activation serial firmware update version
release install uninstall configure setup connect disconnect network wifi bluetooth battery
charger screen display keyboard printer scanner camera microphone speaker headset cable adapter
troubleshoot diagnose fix issue problem bug crash freeze slow performance outage maintenance
incident escalate priority urgent response resolve close reopen feedback rating survey review
credit debit wallet top-up withdrawal deposit atm pin contactless virtual physical replacement
lost stolen fraud dispute chargeback suspicious transaction merchant beneficiary recipient
sender international domestic fee-free instant standard express weekend holiday business-day`)

var supportVerbs = strings.Fields(`reset change update verify cancel add remove enable disable set up
connect export import download upload contact find recover unlock request track return replace
activate renew transfer pay refund invite share configure install troubleshoot report close`)

var syllables = strings.Fields(`ka lo mi re tan vo ser dil po nex tra qui bel mor fen gra zu lin
cor dax vel pri som tek var ulo nar bis kel jon ret`)

func newCorpus(seed uint64) *corpus {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	vocab := append(append([]string{}, functionWords...), supportWords...)
	vocab = append(vocab, supportVerbs...)
	// The long tail: product names and codes, each rare.
	tail := rand.New(rand.NewPCG(7, 11))
	for len(vocab) < 20000 {
		var w strings.Builder
		for range 2 + tail.IntN(2) {
			w.WriteString(syllables[tail.IntN(len(syllables))])
		}
		if tail.IntN(4) == 0 {
			fmt.Fprintf(&w, "-%d", tail.IntN(900)+100)
		}
		vocab = append(vocab, w.String())
	}
	return &corpus{rng: rng, zipf: rand.NewZipf(rng, 1.15, 2, uint64(len(vocab)-1)), vocab: vocab}
}

func (c *corpus) word() string { return c.vocab[c.zipf.Uint64()] }

// sentence returns n words, capitalised, ending in a full stop.
func (c *corpus) sentence(n int) string {
	var b strings.Builder
	for i := range n {
		w := c.word()
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	b.WriteByte('.')
	return b.String()
}

// paragraph returns about words words in sentences of 8 to 24 words.
func (c *corpus) paragraph(words int) string {
	var parts []string
	for n := 0; n < words; {
		k := 8 + c.rng.IntN(17)
		parts = append(parts, c.sentence(k))
		n += k
	}
	return strings.Join(parts, " ")
}

// title returns an article title such as "How to reset your card pin".
func (c *corpus) title() string {
	verb := supportVerbs[c.rng.IntN(len(supportVerbs))]
	return fmt.Sprintf("How to %s your %s %s", verb, supportWords[c.rng.IntN(len(supportWords))], c.contentWord())
}

// heading returns a section heading.
func (c *corpus) heading() string {
	return strings.ToUpper(c.contentWord()[:1]) + c.contentWord()[1:] + " and " + c.contentWord()
}

// contentWord returns a word from past the function words: what people type in a search box.
func (c *corpus) contentWord() string {
	for {
		if i := c.zipf.Uint64(); int(i) >= len(functionWords) {
			return c.vocab[i]
		}
	}
}

// query returns two to five content words, as a person would search: mostly support
// vocabulary, sometimes a product name.
func (c *corpus) query() string {
	n := 2 + c.rng.IntN(4)
	words := make([]string, n)
	common := len(functionWords) + len(supportWords) + len(supportVerbs)
	for i := range words {
		for {
			w := c.contentWord()
			if c.rng.IntN(5) == 0 || c.indexOf(w) < common {
				words[i] = w
				break
			}
		}
	}
	return strings.Join(words, " ")
}

func (c *corpus) indexOf(w string) int {
	if c.index == nil {
		c.index = make(map[string]int, len(c.vocab))
		for i, v := range c.vocab {
			if _, dup := c.index[v]; !dup {
				c.index[v] = i
			}
		}
	}
	return c.index[w]
}

// markdown returns an article of sections, each a heading and paragraphs, of about words words.
func (c *corpus) markdown(title string, words int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title)
	for n := 0; n < words; {
		fmt.Fprintf(&b, "## %s\n\n", c.heading())
		for range 1 + c.rng.IntN(3) {
			k := 60 + c.rng.IntN(120)
			b.WriteString(c.paragraph(k))
			b.WriteString("\n\n")
			n += k
		}
	}
	return b.String()
}
