"""A TFX-shaped pipeline run written with the real ml-metadata package: ExampleGen -> Trainer -> Evaluator (blesses
the model) -> Pusher (pushes it), all in pipeline ``credit``'s run ``credit-2026-02-01`` launched by dana from a
git commit."""

from __future__ import annotations

from typing import Any

SHA = "c" * 40
REPO = "https://github.com/acme/credit-tfx.git"
ROOT = "gs://acme-pipelines/credit"


def store(path: str) -> Any:
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def build(path: str, *, failed_trainer: bool = False) -> dict[str, int]:
    from ml_metadata.proto import metadata_store_pb2 as pb

    s = store(path)
    types = {name: s.put_artifact_type(pb.ArtifactType(name=name))
             for name in ("Examples", "Model", "ModelBlessing", "PushedModel")}
    pipeline_t = s.put_context_type(pb.ContextType(name="pipeline"))
    run_t = s.put_context_type(pb.ContextType(name="pipeline_run"))
    pipeline = pb.Context(type_id=pipeline_t, name="credit")
    run = pb.Context(type_id=run_t, name="credit-2026-02-01")
    run.custom_properties["git_commit"].string_value = SHA
    run.custom_properties["git_repo"].string_value = REPO
    run.custom_properties["launcher"].string_value = "dana@acme.example"
    pipeline_id, run_id = s.put_contexts([pipeline, run])
    s.put_parent_contexts([pb.ParentContext(child_id=run_id, parent_id=pipeline_id)])

    def artifact(kind: str, uri: str, **props: Any) -> pb.Artifact:
        a = pb.Artifact(type_id=types[kind], uri=uri, state=pb.Artifact.LIVE)
        for k, v in props.items():
            if isinstance(v, int):
                a.custom_properties[k].int_value = v
            else:
                a.custom_properties[k].string_value = v
        return a

    def execute(component: str, inputs: list[int], outputs: list[pb.Artifact], ok: bool = True) -> list[int]:
        et = s.put_execution_type(pb.ExecutionType(name=f"tfx.components.{component}"))
        e = pb.Execution(type_id=et, last_known_state=pb.Execution.COMPLETE if ok else pb.Execution.FAILED)
        events = [(None, pb.Event(artifact_id=i, type=pb.Event.INPUT)) for i in inputs]
        events += [(a, pb.Event(type=pb.Event.OUTPUT)) for a in outputs]
        _, artifact_ids, _ = s.put_execution(e, events, [pipeline, run])
        pipeline.id, run.id = pipeline_id, run_id  # put_execution wants the stored contexts from now on
        return list(artifact_ids)[len(inputs):]

    pipeline.id, run.id = pipeline_id, run_id
    [examples] = execute("ExampleGen", [], [artifact("Examples", f"{ROOT}/ExampleGen/examples/1")])
    [model] = execute("Trainer", [examples], [artifact("Model", f"{ROOT}/Trainer/model/2", model_name="credit")],
                      ok=not failed_trainer)
    [blessing] = execute("Evaluator", [model, examples],
                         [artifact("ModelBlessing", f"{ROOT}/Evaluator/blessing/3", blessed=1, current_model_id=model)])
    [pushed] = execute("Pusher", [model, blessing],
                       [artifact("PushedModel", f"{ROOT}/Pusher/pushed_model/4", pushed=1,
                                 pushed_destination="gs://acme-serving/credit/2")])
    return {"examples": examples, "model": model, "blessing": blessing, "pushed": pushed, "run": run_id}
