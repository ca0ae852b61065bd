// The file of a listening unix socket. A vat that ended without cleaning up leaves its socket
// file behind, and binding the path again fails with "Address already in use"; the C++ and
// JavaScript peers replace such a stale socket, and so do we, but never a live socket or a file
// of another kind.

#pragma once

#include <kj/string.h>
#include <sys/types.h>

namespace capnp_native {

class UnixSocketFile {
public:
  // Before binding `path`: removes a stale socket there (one nobody accepts on). Throws a clear
  // kj::Exception (it runs inside promise continuations) when a live socket or a file that is not a socket is in the way.
  static void clearStale(kj::StringPtr path);

  // After binding: remembers which file is ours, so that only it is removed.
  explicit UnixSocketFile(kj::StringPtr path);
  // Removes the socket file, unless the path now names another file.
  ~UnixSocketFile() noexcept;
  KJ_DISALLOW_COPY(UnixSocketFile);

private:
  kj::String path;
  dev_t device = 0;
  ino_t inode = 0;
  bool known = false;
};

}  // namespace capnp_native
