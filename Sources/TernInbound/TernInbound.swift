// TernInbound
