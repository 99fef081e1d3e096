// TernServer — reads the configuration, builds every part and runs them.
//
// SECURITY: trusts the configuration file and the files it names (users,
// aliases, certificate, key), all owned by the administrator. It opens the
// listening sockets and the state directory; it holds no protocol logic of
// its own: the parts it wires (TernInbound, TernDelivery, TernSpool,
// TernAccounts) do the work, each as a swift-service-lifecycle Service with
// graceful shutdown.
