// Exceptions must not leave an OpenMP parallel region: work inside one runs
// through FirstError::guard, which keeps the first exception thrown by any
// thread, and rethrow() raises it once the region has ended.
#pragma once

#include <exception>
#include <mutex>

namespace homeostat {

class FirstError {
 public:
  template <class Work>
  void guard(Work&& work) {
    try {
      work();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
  std::mutex mutex_;
};

}  // namespace homeostat
