// The keeper's control socket: `ctl` in a kept lab's record directory, a
// Unix socket on which the keeper answers `nslab inspect` and `nslab logs`
// about what only it knows — its programs, their state and their output.
// The directory is the caller's own (0700, kept_lab.h), so only its owner
// can connect. One request line per connection, the answer until EOF:
//   "programs"  ->  "program\tINDEX\tNODE\tPID\tSTATE\tLABEL" per program
//                   (STATE: "running" or "exited CODE"), then
//                   "service\tNODE\tPROTO/PORT" per built-in service;
//                   fields escaped (\\, \t, \n)
//   "log INDEX" ->  the program's output so far, raw
//   "check\tPATH\tEXPLAIN" -> runs the expectations of the scenario file
//                   PATH (absolute) against the lab (EXPLAIN "1": explain
//                   every probe expectation): "lab\tsame" or "lab\tdiffers"
//                   (whether PATH describes the lab the keeper built, see
//                   scenario_compare.h), then per expectation "expectation\t
//                   PASSED(0|1)\tFILE\tLINE\tCOLUMN\tMS\tTITLE\tSUMMARY\tDETAILS"
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "nslab/fd.h"

namespace nslab {

class Lab;

inline constexpr const char* kKeeperControlFile = "ctl";

// The keeper's side: listens on dir/ctl (dir: the record's directory, held
// open by the caller while this is made) and answers on a thread of its own
// until destroyed.
class KeeperControl {
 public:
  // built_from: the text of the scenario file the lab was built from.
  KeeperControl(Lab& lab, int record_dir, std::string built_from);
  ~KeeperControl();  // stops and joins the thread, then closes the socket
  KeeperControl(const KeeperControl&) = delete;
  KeeperControl& operator=(const KeeperControl&) = delete;

 private:
  void serve();
  void answer(int conn);

  std::string check(const std::string& path, bool explain);

  Lab& lab_;
  std::string built_from_;
  Fd listen_;
  Fd wake_;             // eventfd that stops serve()
  std::thread thread_;  // last: joined before the descriptors close
};

// The client's side: sends one request to the keeper of the lab whose record
// directory is dir, and returns the whole answer. Throws Error naming the lab
// when the keeper does not answer (within `timeout`).
std::string ask_keeper(int record_dir, const std::string& id, const std::string& request,
                       std::chrono::seconds timeout = std::chrono::seconds(10));

// Field escaping of the wire format.
std::string control_escape(const std::string& s);
std::string control_unescape(const std::string& s);

}  // namespace nslab
