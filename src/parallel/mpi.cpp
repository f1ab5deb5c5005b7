#include "homeostat/parallel/mpi.hpp"

#ifdef HOMEOSTAT_HAVE_MPI
// The C API only: OpenMPI's deprecated C++ bindings are not needed (and warn).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string_view>

extern char** environ;

namespace homeostat::parallel {

namespace {

const char* env(const char* name) { return std::getenv(name); }

// The variables launchers set that launched_by_mpi() reads, plus the rest of
// their families, which an MPI library inside a child would pick up.
bool is_launcher_variable(std::string_view entry) {
  for (const std::string_view prefix : {"OMPI_", "PMIX_", "PMI_", "SLURM_STEP_", "SLURM_PROCID=", "SLURM_LOCALID="})
    if (entry.substr(0, prefix.size()) == prefix) return true;
  return false;
}

long env_long(const char* name) {
  const char* v = env(name);
  return v ? std::strtol(v, nullptr, 10) : 0;
}

std::atomic<bool> context_created{false};  // MPI starts at most once per process

// MpiContext::running_sum on one rank: its part, block by block.
void running_sum_alone(std::span<double> sum, std::size_t block,
                       const std::function<void(std::size_t, std::span<double>, bool)>& add_mine) {
  if (block == 0) throw std::invalid_argument("MpiContext::running_sum: blocks of 0 elements");
  for (std::size_t at = 0; at < sum.size(); at += block) add_mine(at, sum.subspan(at, std::min(block, sum.size() - at)), true);
}

#ifdef HOMEOSTAT_HAVE_MPI
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(fmt::format("{}: {}", what, std::string_view(text, static_cast<std::size_t>(len))));
}
#endif

}  // namespace

bool built_with_mpi() {
#ifdef HOMEOSTAT_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpi() {
  if (env("OMPI_COMM_WORLD_SIZE") || env("PMIX_RANK") || env("PMI_RANK")) return true;
  return env("SLURM_STEP_ID") && env_long("SLURM_NTASKS") > 1;
}

int local_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"})
    if (env(name)) return static_cast<int>(std::max(1L, env_long(name)));
  return 1;
}

std::vector<std::string> environment_without_launcher() {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e)
    if (!is_launcher_variable(*e)) out.emplace_back(*e);
  return out;
}

MpiContext::MpiContext() {
  if (context_created.exchange(true)) throw std::logic_error("MpiContext: MPI can be started only once per process");
  if (!launched_by_mpi()) return;
  const long launcher_size = std::max(env_long("OMPI_COMM_WORLD_SIZE"), env_long("SLURM_NTASKS"));
#ifdef HOMEOSTAT_HAVE_MPI
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  active_ = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  if (size_ == 1 && launcher_size > 1) {
    MPI_Finalize();
    active_ = false;
    throw std::runtime_error(fmt::format(
        "started as one of {} tasks but MPI sees a single rank: launch with mpirun, or srun --mpi=pmix",
        launcher_size));
  }
#else
  if (launcher_size > 1)
    throw std::runtime_error(fmt::format(
        "started as one of {} MPI ranks, but this homeostat was built without MPI "
        "(install libopenmpi-dev and rebuild with -DHOMEOSTAT_MPI=ON)",
        launcher_size));
#endif
}

MpiContext::~MpiContext() {
#ifdef HOMEOSTAT_HAVE_MPI
  if (!active_) return;
  // Unwinding an exception on one rank: the others may be waiting for it.
  if (std::uncaught_exceptions() > 0 && size_ > 1) MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Finalize();
#endif
}

void MpiContext::abort(int code) const {
  std::fflush(stdout);
  std::fflush(stderr);
#ifdef HOMEOSTAT_HAVE_MPI
  if (active_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

int MpiContext::run_guarded(const std::function<int()>& fn) const {
  try {
    return fn();
  } catch (const std::exception& e) {
    if (size_ <= 1) throw;
    std::fprintf(stderr, "error (rank %d of %d): %s\n", rank_, size_, e.what());
    abort(1);
  }
}

#ifdef HOMEOSTAT_HAVE_MPI

void MpiContext::send(int dest, int tag, const std::vector<std::int64_t>& values) const {
  check(MPI_Send(values.data(), static_cast<int>(values.size()), MPI_INT64_T, dest, tag, MPI_COMM_WORLD), "MPI_Send");
}

std::vector<std::int64_t> MpiContext::receive(int source, int tag, int* from) const {
  MPI_Status status;
  check(MPI_Probe(source < 0 ? MPI_ANY_SOURCE : source, tag, MPI_COMM_WORLD, &status), "MPI_Probe");
  int count = 0;
  MPI_Get_count(&status, MPI_INT64_T, &count);
  std::vector<std::int64_t> values(static_cast<std::size_t>(count));
  check(MPI_Recv(values.data(), count, MPI_INT64_T, status.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Recv");
  if (from) *from = status.MPI_SOURCE;
  return values;
}

bool MpiContext::probe(int tag) const {
  int flag = 0;
  check(MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
  return flag != 0;
}

void MpiContext::barrier() const {
  if (active_) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void MpiContext::allreduce_sum(std::span<double> values) const {
  if (active_ && size_ > 1)
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
}

void MpiContext::allreduce_sum(std::span<float> values) const {
  if (active_ && size_ > 1)
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_FLOAT, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
}

void MpiContext::broadcast(std::span<std::byte> bytes, int root) const {
  if (active_ && size_ > 1)
    check(MPI_Bcast(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
}

bool MpiContext::any(bool mine) const {
  int value = mine ? 1 : 0;
  if (active_ && size_ > 1)
    check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD), "MPI_Allreduce");
  return value != 0;
}

namespace {
// MPI counts are int: the element count of one rank's part, checked.
int part_count(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::runtime_error(fmt::format("{}: one rank's part of {} elements exceeds MPI's int count", what, n));
  return static_cast<int>(n);
}
// Displacements of parts of `counts` elements laid end to end; their total.
std::size_t displacements(const std::vector<int>& counts, std::vector<int>& displs, const char* what) {
  std::size_t total = 0;
  displs.resize(counts.size());
  for (std::size_t r = 0; r < counts.size(); ++r) {
    displs[r] = part_count(total, what);
    total += static_cast<std::size_t>(counts[r]);
  }
  return total;
}
}  // namespace

std::vector<double> MpiContext::allgather(std::span<const double> mine) const {
  if (!active_ || size_ <= 1) return {mine.begin(), mine.end()};
  int count = part_count(mine.size(), "MPI_Allgatherv");
  std::vector<int> counts(size_), displs;
  check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  std::vector<double> all(displacements(counts, displs, "MPI_Allgatherv"));
  check(MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE,
                       MPI_COMM_WORLD),
        "MPI_Allgatherv");
  return all;
}

void MpiContext::running_sum(std::span<double> sum, std::size_t block,
                             const std::function<void(std::size_t, std::span<double>, bool)>& add_mine) const {
  if (!active_ || size_ <= 1 || block == 0) return running_sum_alone(sum, block, add_mine);  // (which refuses block 0)
  constexpr int tag_running_sum = 3;  // the sweep's messages are 1 and 2
  part_count(std::min(block, sum.size()), "MPI running sum");
  std::vector<MPI_Request> sent;
  for (std::size_t at = 0; at < sum.size(); at += block) {
    const std::span<double> part = sum.subspan(at, std::min(block, sum.size() - at));
    const int count = static_cast<int>(part.size());
    if (rank_ > 0)
      check(MPI_Recv(part.data(), count, MPI_DOUBLE, rank_ - 1, tag_running_sum, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
            "MPI_Recv");
    add_mine(at, part, rank_ == 0);
    if (rank_ + 1 < size_) {
      // Sent while the next block is added: that block's memory is not this one's.
      check(MPI_Isend(part.data(), count, MPI_DOUBLE, rank_ + 1, tag_running_sum, MPI_COMM_WORLD, &sent.emplace_back()),
            "MPI_Isend");
    }
  }
  check(MPI_Waitall(static_cast<int>(sent.size()), sent.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  // The total, from the last rank, in parts that MPI's int count can hold.
  constexpr std::size_t bcast_part = std::size_t{1} << 27;
  for (std::size_t at = 0; at < sum.size(); at += bcast_part)
    check(MPI_Bcast(sum.data() + at, static_cast<int>(std::min(bcast_part, sum.size() - at)), MPI_DOUBLE, size_ - 1,
                    MPI_COMM_WORLD),
          "MPI_Bcast");
}

std::vector<std::byte> MpiContext::gather(std::span<const std::byte> mine, int root) const {
  if (!active_ || size_ <= 1) return {mine.begin(), mine.end()};
  int count = part_count(mine.size(), "MPI_Gatherv");
  std::vector<int> counts(rank_ == root ? size_ : 0), displs;
  check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "MPI_Gather");
  std::vector<std::byte> all(rank_ == root ? displacements(counts, displs, "MPI_Gatherv") : 0);
  check(MPI_Gatherv(mine.data(), count, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, root,
                    MPI_COMM_WORLD),
        "MPI_Gatherv");
  return all;
}

#else  // one rank: collectives are the identity, messages have nobody to go to

void MpiContext::send(int, int, const std::vector<std::int64_t>&) const {
  throw std::logic_error("MpiContext::send: a single rank has nobody to send to");
}
std::vector<std::int64_t> MpiContext::receive(int, int, int*) const {
  throw std::logic_error("MpiContext::receive: a single rank has nobody to receive from");
}
bool MpiContext::probe(int) const { return false; }
void MpiContext::barrier() const {}
void MpiContext::allreduce_sum(std::span<double>) const {}
void MpiContext::allreduce_sum(std::span<float>) const {}
void MpiContext::broadcast(std::span<std::byte>, int) const {}
bool MpiContext::any(bool mine) const { return mine; }
std::vector<double> MpiContext::allgather(std::span<const double> mine) const { return {mine.begin(), mine.end()}; }
void MpiContext::running_sum(std::span<double> sum, std::size_t block,
                             const std::function<void(std::size_t, std::span<double>, bool)>& add_mine) const {
  running_sum_alone(sum, block, add_mine);
}
std::vector<std::byte> MpiContext::gather(std::span<const std::byte> mine, int) const {
  return {mine.begin(), mine.end()};
}

#endif

}  // namespace homeostat::parallel
