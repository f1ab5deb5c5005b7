// Runs a long C++ call off the Python thread that made it, so that the GIL is
// free for the caller's other threads, Ctrl-C is seen within 50 ms, and yet
// every Python callback (on_log, messages) runs on the caller's own thread.
//
// The calling thread, without the GIL, waits for the worker; every 50 ms it
// takes the GIL and runs Python's signal handlers (PyErr_CheckSignals), and
// it runs each callback the worker posts. A KeyboardInterrupt, or an
// exception raised by a callback, sets `stop` (the run library's stop flag:
// the run ends at its next safe point, leaving a checkpoint) and is re-raised
// once the worker has returned.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>

namespace homeostat::python {

class Bridge {
 public:
  // The library's stop flag; nonzero = stop at the next safe point.
  std::atomic<int> stop{0};

  // From the worker (any thread, never holding the GIL): runs `fn` on the
  // calling Python thread with the GIL held and returns when it has run. A
  // Python exception from `fn` is kept for run() to raise and sets `stop`.
  void call(const std::function<void()>& fn);

  // On the Python thread, GIL held: runs `work` on a worker thread and
  // returns its result; raises the first Python error (KeyboardInterrupt or a
  // callback's exception) or rethrows the worker's C++ exception.
  template <class Work>
  auto run(Work&& work) -> decltype(work()) {
    using Result = decltype(work());
    std::optional<Result> result;
    serve([&] { result.emplace(work()); });
    return std::move(*result);
  }

  // True once a Python error is pending (the run is being stopped for it).
  bool failed() const { return failed_.load(); }

 private:
  void serve(const std::function<void()>& work);
  void keep_error();  // the current Python error, GIL held; first one wins

  std::mutex mu_;
  std::condition_variable cv_;
  std::mutex call_mu_;                        // one posted call at a time
  const std::function<void()>* pending_ = nullptr;
  bool pending_done_ = false;
  bool finished_ = false;
  std::atomic<bool> failed_{false};
  std::optional<pybind11::error_already_set> error_;
};

}  // namespace homeostat::python
