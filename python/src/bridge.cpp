#include "bridge.hpp"

#include <chrono>
#include <thread>

namespace py = pybind11;

namespace homeostat::python {

void Bridge::keep_error() {
  py::error_already_set e;  // fetches (and clears) the current Python error
  if (!error_) error_.emplace(std::move(e));
  failed_ = true;
  stop = 1;
}

void Bridge::call(const std::function<void()>& fn) {
  std::lock_guard<std::mutex> one(call_mu_);
  std::unique_lock<std::mutex> lk(mu_);
  pending_ = &fn;
  pending_done_ = false;
  cv_.notify_all();
  cv_.wait(lk, [&] { return pending_done_; });
}

void Bridge::serve(const std::function<void()>& work) {
  std::exception_ptr worker_error;
  finished_ = false;
  std::thread worker([&] {
    try {
      work();
    } catch (...) {
      worker_error = std::current_exception();
    }
    std::lock_guard<std::mutex> lk(mu_);
    finished_ = true;
    cv_.notify_all();
  });
  {
    py::gil_scoped_release release;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      if (pending_ != nullptr) {
        const std::function<void()>* fn = pending_;
        lk.unlock();
        {
          py::gil_scoped_acquire gil;
          try {
            (*fn)();
          } catch (py::error_already_set& e) {
            e.restore();
            keep_error();
          } catch (const std::exception& e) {
            PyErr_SetString(PyExc_RuntimeError, e.what());
            keep_error();
          }
          // A signal raised by the callback itself (signal.raise_signal)
          // is handled here, before the run goes on.
          if (PyErr_CheckSignals() != 0) keep_error();
        }
        lk.lock();
        pending_ = nullptr;
        pending_done_ = true;
        cv_.notify_all();
        continue;
      }
      if (finished_) break;
      if (cv_.wait_for(lk, std::chrono::milliseconds(50)) == std::cv_status::timeout && pending_ == nullptr &&
          !finished_) {
        lk.unlock();
        {
          py::gil_scoped_acquire gil;
          if (PyErr_CheckSignals() != 0) keep_error();
        }
        lk.lock();
      }
    }
  }
  worker.join();
  if (error_) {
    py::error_already_set e = std::move(*error_);
    error_.reset();
    throw e;
  }
  if (worker_error) std::rethrow_exception(worker_error);
}

}  // namespace homeostat::python
