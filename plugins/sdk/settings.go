package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Settings is a plugin's settings table ([plugin.settings] in the daemon's
// config), carried as a JSON object.
type Settings struct {
	raw []byte
}

// SettingsFromJSON wraps a JSON object, for tests.
func SettingsFromJSON(raw []byte) Settings { return Settings{raw: bytes.Clone(raw)} }

// JSON returns the settings as a JSON object ("{}" when empty).
func (s Settings) JSON() []byte {
	if len(bytes.TrimSpace(s.raw)) == 0 {
		return []byte("{}")
	}
	return bytes.Clone(s.raw)
}

// Decode unmarshals the settings into v (a pointer to a struct with json
// tags). Keys v does not know are an error, so a typo in the config file is
// reported instead of ignored. Fields absent from the settings keep their
// values in v, so set defaults before calling Decode.
func (s Settings) Decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(s.JSON()))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding settings: %w", err)
	}
	return nil
}
