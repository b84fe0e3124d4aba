package pgtest

import "net/url"

func replaceDBName(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// A keyword/value connection string: append dbname, the last one wins.
		return raw + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}
