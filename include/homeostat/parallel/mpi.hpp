// MPI for homeostat, confined to this module.
//
// A process started by a launcher (mpirun, or srun with a PMI plug-in) joins
// MPI_COMM_WORLD; any other process is a single rank that never calls MPI, so
// a plain `homeostat` command behaves exactly as without MPI, and a build
// without MPI (HOMEOSTAT_HAVE_MPI undefined) runs everything on one rank.
//
// One MpiContext per process (MPI cannot start again after finalising). A
// rank that fails must not leave the others waiting for it forever: an
// exception that leaves run_guarded(), or unwinds through the context's
// destructor, aborts the whole job (MPI_Abort) instead of finalising.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace homeostat::parallel {

// Whether this binary was built with MPI (option HOMEOSTAT_MPI).
bool built_with_mpi();

// Whether a launcher started this process as one rank of a job: OpenMPI's
// mpirun (OMPI_COMM_WORLD_SIZE), a PMIx/PMI launcher (PMIX_RANK, PMI_RANK),
// or a Slurm job step of several tasks (SLURM_STEP_ID with SLURM_NTASKS > 1).
bool launched_by_mpi();

// How many ranks of this job run on this node (OpenMPI's
// OMPI_COMM_WORLD_LOCAL_SIZE, Slurm's SLURM_NTASKS_PER_NODE); 1 outside a job.
int local_ranks();

// This process's environment without the launcher's variables ("NAME=VALUE"
// strings), for child processes that must run as plain single processes.
std::vector<std::string> environment_without_launcher();

class MpiContext {
 public:
  // Joins MPI (MPI_THREAD_FUNNELED: only the main thread calls MPI) when
  // launched_by_mpi(), else a single rank. Throws std::runtime_error when a
  // launcher started several ranks but this build has no MPI, or when MPI
  // sees one rank where Slurm started several (srun without --mpi=pmix).
  MpiContext();
  ~MpiContext();
  MpiContext(const MpiContext&) = delete;
  MpiContext& operator=(const MpiContext&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool active() const { return active_; }  // MPI initialised (possibly with one rank)
  bool root() const { return rank_ == 0; }

  // Ends every rank of the job with `code` (MPI_Abort); std::exit alone.
  [[noreturn]] void abort(int code) const;

  // Runs `fn` and returns its result. An exception prints "error: ..." (with
  // the rank) and, with several ranks, aborts the job so that none hangs.
  int run_guarded(const std::function<int()>& fn) const;

  // Point-to-point messages of int64 values. `source` -1 receives from any
  // rank; `from`, when given, receives the sender's rank.
  void send(int dest, int tag, const std::vector<std::int64_t>& values) const;
  std::vector<std::int64_t> receive(int source, int tag, int* from = nullptr) const;
  // Non-blocking: whether a message with `tag` from any rank is waiting.
  bool probe(int tag) const;

  void barrier() const;
  // Element-wise sums over all ranks, in place (identical on every rank).
  void allreduce_sum(std::span<double> values) const;
  void allreduce_sum(std::span<float> values) const;
  // Bytes from `root` to every rank, in place.
  void broadcast(std::span<std::byte> bytes, int root) const;
  // Whether `mine` is true on any rank (the same answer on every rank).
  bool any(bool mine) const;
  // Every rank's `mine`, concatenated in rank order, on every rank.
  std::vector<double> allgather(std::span<const double> mine) const;
  // A sum over the ranks in rank order, the same bits on every rank: rank 0
  // writes its part into `sum` (add_mine(offset, part, true)), each further
  // rank receives the running sum of the ranks before it and adds its part
  // (add_mine(offset, part, false)) before passing it on, and the last
  // rank's total is broadcast. `sum` goes through in blocks of `block`
  // elements, so the ranks pipeline (rank r adds block j while rank r + 1
  // adds block j - 1); every element still sees its additions in rank
  // order. A rank receives two copies of `sum` at most, whatever the ranks.
  void running_sum(std::span<double> sum, std::size_t block,
                   const std::function<void(std::size_t offset, std::span<double> part, bool first)>& add_mine) const;
  // Every rank's `mine`, concatenated in rank order, at `root`; empty on the
  // other ranks. Each part must be below 2 GiB.
  std::vector<std::byte> gather(std::span<const std::byte> mine, int root) const;

 private:
  int rank_ = 0, size_ = 1;
  bool active_ = false;
};

}  // namespace homeostat::parallel
