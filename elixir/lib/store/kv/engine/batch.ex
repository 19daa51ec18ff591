defmodule Store.KV.Engine.Batch do
  @moduledoc false
  # The shapes of write_batch/3's entries, checked before anything is sent:
  # one bad entry refuses the whole batch.

  alias Store.KV.Engine.Caller

  @doc false
  @spec check(term()) :: :ok | {:error, {:badarg, String.t()}}
  def check(ops), do: check(ops, 1)

  defp check([], _), do: :ok

  defp check([op | rest], i) do
    if valid_op?(op),
      do: check(rest, i + 1),
      else: Caller.badarg("batch entry #{i} is invalid: #{inspect(op, limit: 5)}")
  end

  defp check(other, _),
    do: Caller.badarg("a batch is a list, got: #{inspect(other, limit: 5)}")

  defp valid_op?({kind, k, v}) when kind in [:put, :merge], do: is_binary(k) and is_binary(v)

  defp valid_op?({kind, cf, k, v}) when kind in [:put, :merge],
    do: cf?(cf) and is_binary(k) and is_binary(v)

  defp valid_op?({kind, k}) when kind in [:delete, :single_delete], do: is_binary(k)

  defp valid_op?({kind, cf, k}) when kind in [:delete, :single_delete],
    do: cf?(cf) and is_binary(k)

  defp valid_op?({:delete_range, s, e}), do: is_binary(s) and is_binary(e)
  defp valid_op?({:delete_range, cf, s, e}), do: cf?(cf) and is_binary(s) and is_binary(e)
  defp valid_op?(_), do: false

  defp cf?(cf), do: is_binary(cf) and cf != ""
end
