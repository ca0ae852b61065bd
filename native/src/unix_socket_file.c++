#include "unix_socket_file.h"
#include <kj/debug.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace capnp_native {
namespace {

// True if something accepts connections on the socket at `path`.
bool isListenedOn(kj::StringPtr path) {
  sockaddr_un address;
  memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return false;  // bind will say it is too long
  memcpy(address.sun_path, path.begin(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    kj::throwFatalException(KJ_EXCEPTION(OVERLOADED, kj::str("socket: ", strerror(errno))));
  }
  // A unix-domain connect never waits for the network: it succeeds, or fails at once.
  int result = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  int error = errno;
  close(fd);
  return result == 0 || (error != ECONNREFUSED && error != ENOENT);
}

}  // namespace

void UnixSocketFile::clearStale(kj::StringPtr path) {
  struct stat info;
  if (lstat(path.cStr(), &info) != 0) return;  // nothing there (or unreadable: bind will say)
  if (!S_ISSOCK(info.st_mode)) {
    kj::throwFatalException(KJ_EXCEPTION(FAILED,
        kj::str("cannot listen on unix:", path, ": the path exists and is not a socket")));
  }
  if (isListenedOn(path)) {
    kj::throwFatalException(KJ_EXCEPTION(FAILED,
        kj::str("cannot listen on unix:", path, ": another process is listening there")));
  }
  if (unlink(path.cStr()) != 0 && errno != ENOENT) {
    kj::throwFatalException(KJ_EXCEPTION(FAILED,
        kj::str("cannot remove the stale socket unix:", path, ": ", strerror(errno))));
  }
}

UnixSocketFile::UnixSocketFile(kj::StringPtr path): path(kj::heapString(path)) {
  struct stat info;
  if (lstat(this->path.cStr(), &info) == 0 && S_ISSOCK(info.st_mode)) {
    device = info.st_dev;
    inode = info.st_ino;
    known = true;
  }
}

UnixSocketFile::~UnixSocketFile() noexcept {
  if (!known) return;
  struct stat info;
  if (lstat(path.cStr(), &info) == 0 && S_ISSOCK(info.st_mode) && info.st_dev == device &&
      info.st_ino == inode) {
    unlink(path.cStr());
  }
}

}  // namespace capnp_native
