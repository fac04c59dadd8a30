"use client";

import {
  type ColumnDef,
  columnFilteringFeature,
  createColumnHelper,
  createFilteredRowModel,
  createSortedRowModel,
  filterFn_includesString,
  globalFilteringFeature,
  type RowData,
  rowSortingFeature,
  type SortingState,
  sortFn_alphanumeric,
  sortFn_basic,
  sortFn_datetime,
  sortFn_text,
  tableFeatures,
  useTable,
} from "@tanstack/react-table";
import { ArrowDown, ArrowUp, ArrowUpDown, Search } from "lucide-react";
import { Fragment, type ReactNode, useId } from "react";
import { Button, cx, ErrorState, LoadingState } from "./primitives";

/** Per-column presentation: cell/header classes, and whether the text filter searches the column. */
type DataColumnMeta = { className?: string; headerClassName?: string; search?: boolean };

/**
 * The one feature set every table in the app shares, so one column helper types them all: client
 * sorting and a text filter over the rows the table holds (for paged lists, the loaded rows).
 */
export const dataTableFeatures = tableFeatures({
  rowSortingFeature,
  columnFilteringFeature,
  globalFilteringFeature,
  sortedRowModel: createSortedRowModel(),
  filteredRowModel: createFilteredRowModel(),
  sortFns: { alphanumeric: sortFn_alphanumeric, text: sortFn_text, datetime: sortFn_datetime, basic: sortFn_basic },
  filterFns: { includesString: filterFn_includesString },
  columnMeta: {} as DataColumnMeta,
});
export type DataTableFeatures = typeof dataTableFeatures;
// biome-ignore lint/suspicious/noExplicitAny: column value types differ per column, as in TanStack's own ColumnDef arrays.
export type DataColumn<T extends RowData> = ColumnDef<DataTableFeatures, T, any>;

export function dataColumns<T extends RowData>() {
  return createColumnHelper<DataTableFeatures, T>();
}

export type Paging = {
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore: () => void;
  /** The button's text; "Load more" unless the list reads better otherwise. */
  label?: string;
};

/** What DataTable reads of an infinite query (TanStack Query's useInfiniteQuery result). */
type InfiniteList = {
  isPending: boolean;
  isError: boolean;
  error: { message: string } | null;
  refetch: () => unknown;
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => unknown;
};

/** A paged list's loading, error and "Load more" props, the same for every table fed by one. */
export function infiniteListProps(q: InfiniteList, loadMoreLabel?: string) {
  return {
    loading: q.isPending,
    error: q.isError ? { message: q.error?.message ?? "Could not load", onRetry: () => q.refetch() } : null,
    paging: {
      hasMore: q.hasNextPage,
      loadingMore: q.isFetchingNextPage,
      onLoadMore: () => q.fetchNextPage(),
      ...(loadMoreLabel ? { label: loadMoreLabel } : {}),
    },
  };
}

export type DataTableProps<T extends RowData> = {
  columns: DataColumn<T>[];
  data: readonly T[] | undefined;
  getRowId: (row: T) => string;
  /** The table's accessible name (a visually hidden caption). */
  caption: string;
  /** Query state: while pending a loading note, on error the message with a retry. */
  loading?: boolean;
  loadingLabel?: string;
  error?: { message: string; onRetry?: () => void } | null;
  /** Shown when there are no rows at all (not when the text filter hides them). */
  empty: ReactNode;
  /** A labelled text box that narrows the rows by the columns with meta.search. */
  filter?: { label: string; placeholder?: string };
  initialSorting?: SortingState;
  paging?: Paging;
  /** Left of the paging button: e.g. "Showing 25 jobs, newest first". */
  footerNote?: ReactNode;
  rowProps?: (row: T) => { className?: string; "data-testid"?: string };
  /** An extra full-width row under a row (e.g. expanded details), or null. */
  renderDetail?: (row: T) => ReactNode;
  testId?: string;
  className?: string;
  headClassName?: string;
  /** Padding of every th/td; meta classes add to it (so they should not set padding). */
  cellClassName?: string;
};

function ariaSort(sorted: false | "asc" | "desc") {
  return sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : undefined;
}

/**
 * A table on TanStack Table: header buttons sort (aria-sort on the th), an optional labelled text
 * filter, loading/error/empty states, and cursor paging kept as "Load more". Sorting and filtering
 * work on the rows loaded so far; with more pages on the server the table says so.
 */
export function DataTable<T extends RowData>({
  columns,
  data,
  getRowId,
  caption,
  loading,
  loadingLabel,
  error,
  empty,
  filter,
  initialSorting,
  paging,
  footerNote,
  rowProps,
  renderDetail,
  testId,
  className,
  headClassName = "border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-600",
  cellClassName = "px-4 py-2",
}: DataTableProps<T>) {
  const id = useId();
  const rows = (data ?? []) as T[];
  const table = useTable({
    features: dataTableFeatures,
    columns,
    data: rows,
    getRowId,
    initialState: { sorting: initialSorting ?? [], globalFilter: "" },
    globalFilterFn: "includesString",
    getColumnCanGlobalFilter: (column) => (column.columnDef.meta as DataColumnMeta | undefined)?.search === true,
  });
  const query = String(table.state.globalFilter ?? "");
  const sorted = table.state.sorting.length > 0;
  const visible = table.getRowModel().rows;
  const columnCount = table.getAllLeafColumns().length;

  if (loading) return <LoadingState label={loadingLabel} />;
  if (error) return <ErrorState message={error.message} onRetry={error.onRetry} />;
  if (rows.length === 0) return <>{empty}</>;

  // The server holds more than the table: a sort or filter then only orders/narrows what is loaded.
  const partial = paging?.hasMore === true && (sorted || query !== "");
  return (
    <div>
      {filter && (
        <div className="flex flex-wrap items-center gap-2 border-b border-slate-100 px-4 py-2">
          <label htmlFor={`${id}-filter`} className="text-xs font-medium text-slate-700">
            {filter.label}
          </label>
          <span className="relative">
            <Search className="absolute top-1/2 left-2 size-4 -translate-y-1/2 text-slate-500" aria-hidden />
            <input
              id={`${id}-filter`}
              type="search"
              value={query}
              onChange={(e) => table.setGlobalFilter(e.target.value)}
              placeholder={filter.placeholder}
              aria-describedby={`${id}-count`}
              className="w-56 rounded-md border border-slate-300 py-1 pr-2 pl-7"
            />
          </span>
          <span id={`${id}-count`} className="text-xs text-slate-600" aria-live="polite">
            {query ? `${visible.length} of ${rows.length} loaded rows match` : ""}
          </span>
        </div>
      )}
      {partial && (
        <p className="border-b border-slate-100 px-4 py-1.5 text-xs text-slate-700" data-testid="partial-note">
          Sorting and filtering apply to the {rows.length} rows loaded so far; load more to include the rest.
        </p>
      )}
      <div className="overflow-x-auto">
        <table className={cx("w-full text-left", className)} data-testid={testId}>
          <caption className="sr-only">{caption}</caption>
          <thead className={headClassName}>
            {table.getHeaderGroups().map((g) => (
              <tr key={g.id}>
                {g.headers.map((h) => {
                  const dir = h.column.getIsSorted();
                  const meta = h.column.columnDef.meta;
                  return (
                    <th
                      key={h.id}
                      scope="col"
                      aria-sort={ariaSort(dir)}
                      className={cx(cellClassName, "font-medium", meta?.headerClassName)}
                    >
                      {h.column.getCanSort() ? (
                        <button
                          type="button"
                          onClick={h.column.getToggleSortingHandler()}
                          className="inline-flex items-center gap-1 rounded [text-transform:inherit] hover:text-slate-900"
                        >
                          <table.FlexRender header={h} />
                          {dir === "asc" ? (
                            <ArrowUp className="size-3" aria-hidden />
                          ) : dir === "desc" ? (
                            <ArrowDown className="size-3" aria-hidden />
                          ) : (
                            <ArrowUpDown className="size-3 text-slate-500" aria-hidden />
                          )}
                        </button>
                      ) : (
                        <table.FlexRender header={h} />
                      )}
                    </th>
                  );
                })}
              </tr>
            ))}
          </thead>
          <tbody className="divide-y divide-slate-100">
            {visible.length === 0 ? (
              <tr>
                <td colSpan={columnCount} className="px-4 py-6 text-center text-slate-600">
                  No loaded rows match “{query}”.
                </td>
              </tr>
            ) : (
              visible.map((row) => {
                const detail = renderDetail?.(row.original);
                const props = rowProps?.(row.original);
                return (
                  <Fragment key={row.id}>
                    <tr className={cx("hover:bg-slate-50", props?.className)} data-testid={props?.["data-testid"]}>
                      {row.getAllCells().map((cell) => (
                        <td key={cell.id} className={cx(cellClassName, cell.column.columnDef.meta?.className)}>
                          <table.FlexRender cell={cell} />
                        </td>
                      ))}
                    </tr>
                    {detail ? (
                      <tr className="bg-slate-50">
                        <td colSpan={columnCount} className="px-2 pt-1 pb-3">
                          {detail}
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })
            )}
          </tbody>
        </table>
      </div>
      {(paging?.hasMore || footerNote) && (
        <div className="flex items-center justify-between gap-2 border-t border-slate-200 px-4 py-2 text-xs text-slate-600">
          <span>{footerNote}</span>
          {paging?.hasMore && (
            <Button onClick={paging.onLoadMore} disabled={paging.loadingMore}>
              {paging.loadingMore ? "Loading…" : (paging.label ?? "Load more")}
            </Button>
          )}
        </div>
      )}
    </div>
  );
}
