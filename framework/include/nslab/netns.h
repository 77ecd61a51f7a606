// Netns: one network namespace, anonymous and held by a file descriptor.
//
// The namespace lives exactly as long as something holds it: this handle, a
// socket created inside it, or a process inside it. Nothing is bind-mounted, so
// a test killed with SIGKILL leaks no namespace.
//
// setns(CLONE_NEWNET) changes only the calling thread, so nslab never calls it on
// a caller's thread: run() executes work on a thread made for it.
#pragma once

#include <sys/types.h>

#include <exception>
#include <optional>
#include <string>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

#include "nslab/fd.h"

namespace nslab {

// Runs fn on a new thread, waits for it, and returns its result; an exception
// thrown by fn is rethrown here.
template <typename F>
auto on_new_thread(F&& fn) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    std::thread([&] {
      try {
        fn();
      } catch (...) {
        error = std::current_exception();
      }
    }).join();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<R> result;
    std::thread([&] {
      try {
        result.emplace(fn());
      } catch (...) {
        error = std::current_exception();
      }
    }).join();
    if (error) std::rethrow_exception(error);
    if (!result) throw std::logic_error("Netns::run: no result and no exception");
    return std::move(*result);
  }
}

class Netns {
 public:
  Netns() = default;
  // A fresh, empty namespace (only `lo`, down). The calling thread is untouched.
  static Netns create();
  // The namespace of the calling thread (for before/after comparisons).
  static Netns of_current_thread();
  // A namespace by path: /proc/PID/ns/net or /run/netns/NAME.
  static Netns open(const std::string& path);

  int fd() const noexcept { return fd_.get(); }
  // A path that opens this namespace for another program while the handle is
  // alive: /proc/PID/fd/FD (for `nsenter --net=PATH`).
  std::string path() const;
  bool valid() const noexcept { return fd_.valid(); }
  ino_t inode() const noexcept { return inode_; }

  // Moves the calling thread into this namespace. Only for threads that nslab
  // made for the purpose (see run()); never for a caller's thread.
  void enter_this_thread() const;
  // Creates a new namespace and moves the calling thread into it; returns it.
  // Same restriction as enter_this_thread().
  static Netns unshare_this_thread();

  // Runs fn inside this namespace on a thread made for it; returns fn's result.
  template <typename F>
  auto run(F&& fn) const {
    return on_new_thread([&] {
      enter_this_thread();
      return fn();
    });
  }

 private:
  Netns(Fd fd, ino_t inode) : fd_(std::move(fd)), inode_(inode) {}
  Fd fd_;
  ino_t inode_ = 0;
};

}  // namespace nslab
