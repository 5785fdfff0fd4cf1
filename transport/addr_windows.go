package transport

// keepAddressesFromStart: Windows sockets forget their peer once it has
// reset the connection (getpeername fails, and there is no SO_PEERNAME to
// ask instead), so a connection asks its addresses as it is made and
// keeps them, as Go's net does everywhere.
const keepAddressesFromStart = true
