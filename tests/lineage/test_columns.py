"""Reading the columnLineage facet: spec 1-2-x, the dataset-wide list, older producers, bad shapes. No db."""

from __future__ import annotations

from lineage.columns import ColumnLink, column_links


def _facet(**body: object) -> dict[str, object]:
    return {"columnLineage": {"_producer": "x", "_schemaURL": "y", **body}}


def test_it_reads_one_link_per_input_field_and_transformation() -> None:
    facets = _facet(fields={"ssn_hash": {"inputFields": [
        {"namespace": "pg", "name": "crm.customers", "field": "ssn",
         "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION", "description": "sha256", "masking": True},
                             {"type": "INDIRECT", "subtype": "FILTER"}]}]}})
    assert column_links(facets) == [
        ColumnLink("ssn_hash", "pg", "crm.customers", "ssn", "DIRECT", "TRANSFORMATION", "sha256", True),
        ColumnLink("ssn_hash", "pg", "crm.customers", "ssn", "INDIRECT", "FILTER"),
    ]


def test_the_dataset_wide_list_links_to_the_whole_output() -> None:
    facets = _facet(fields={}, dataset=[
        {"namespace": "pg", "name": "crm.customers", "field": "country",
         "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}]},
        {"namespace": "pg", "name": "crm.customers", "field": "id"}])
    assert column_links(facets) == [ColumnLink("", "pg", "crm.customers", "country", "INDIRECT", "FILTER"),
                                     ColumnLink("", "pg", "crm.customers", "id", "INDIRECT", "")]


def test_older_producers_transformation_type_reads_as_direct() -> None:
    facets = _facet(fields={
        "a": {"inputFields": [{"namespace": "n", "name": "t", "field": "a"}], "transformationType": "IDENTITY",
              "transformationDescription": "identical"},
        "b": {"inputFields": [{"namespace": "n", "name": "t", "field": "x"}], "transformationType": "TRANSFORMED"},
        "c": {"inputFields": [{"namespace": "n", "name": "t", "field": "y"}]}})
    assert column_links(facets) == [ColumnLink("a", "n", "t", "a", "DIRECT", "IDENTITY", "identical"),
                                     ColumnLink("b", "n", "t", "x", "DIRECT", "TRANSFORMATION"),
                                     ColumnLink("c", "n", "t", "y", "DIRECT", "")]


def test_bad_shapes_are_skipped_with_a_warning_naming_where() -> None:
    warnings: list[str] = []
    facets = _facet(fields={"a": {"inputFields": [{"namespace": "n", "name": "t"}, "nope",
                                                  {"namespace": "n", "name": "t", "field": "ok"}]},
                            "b": "not an object", "c": {"inputFields": {"x": 1}}},
                    dataset="nope")
    assert column_links(facets, "outputs[0].facets.columnLineage", warnings) == [
        ColumnLink("a", "n", "t", "ok", "DIRECT", "")]
    assert warnings == [
        "outputs[0].facets.columnLineage.fields.a.inputFields[0] needs namespace, name and a field of at most 500 "
        "characters: ignored",
        "outputs[0].facets.columnLineage.fields.a.inputFields[1] needs namespace, name and a field of at most 500 "
        "characters: ignored",
        "outputs[0].facets.columnLineage.fields.b is not a field lineage: ignored",
        "outputs[0].facets.columnLineage.fields.c.inputFields is not a list: ignored",
        "outputs[0].facets.columnLineage.dataset is not a list: ignored",
    ]
    assert column_links({"columnLineage": "x"}) == [] and column_links({}) == []
