// Package openwire provides the ActiveMQ OpenWire parser: a
// [protocols.Protocol] descriptor whose per-connection [Parser] turns the
// two byte streams of an OpenWire connection into command [protocols.Message]
// values.
package openwire
