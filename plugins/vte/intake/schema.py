"""The interface as Pydantic models, for /openapi.json and /docs only.

The row model is built from the domain's field table, so its descriptions are Table A.1's. Requests
are validated by ``vte.submission.validate_payload`` (all problems at once, bilingual), not by these
models; the models describe the same contract.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from vte import domain
from vte.submission import INT4_MAX, TEXT_MAX_LENGTH


def _row_model() -> type[BaseModel]:
    text = {"min_length": 1, "max_length": TEXT_MAX_LENGTH}
    fields: dict[str, Any] = {
        "hospital": (str, Field(description="院区 (campus)", **text)),
        "dept": (str, Field(description="科室 id (department id)", **text)),
    }
    for f in domain.count_fields():
        fields[f.name] = (int, Field(ge=0, le=INT4_MAX, description=f"{f.label_zh} ({f.description_en})"))
    return create_model("DepartmentRow", __config__=ConfigDict(extra="forbid"), **fields)


DepartmentRow = _row_model()


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accessKey: str = Field(description="API 账户 AccessKey", min_length=1, max_length=TEXT_MAX_LENGTH)
    date: str = Field(description="上报日期(格式: yyyy-MM-dd)，北京时间，不晚于今天",
                      pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    timestamp: int = Field(description="时间戳（秒或毫秒；≥ 10^12 视为毫秒），须在服务器时间 ±300 秒内")
    sign: str = Field(description="签名：md5(accessKey + accessSecret + timestamp) 十六进制")
    data: list[DepartmentRow] = Field(  # type: ignore[valid-type]
        description="上报数据（每个院区+科室一行，不得重复）", min_length=1)


class RuleWarningModel(BaseModel):
    row: int = Field(description="data 中的行号（从 0 开始）")
    ruleId: str
    severity: str = Field(description="quarantine：该行暂不计入指标；warning：计入并标记")
    fields: list[str]
    message: str = Field(description="中文 / English")


class AcceptedData(BaseModel):
    submissionId: str | None = None
    version: int | None = Field(None, description="该机构该上报日期的版本号（新版本整体替代旧版本）")
    duplicate: bool | None = Field(None, description="与最新版本完全相同的重试：未重复保存")
    receivedAt: str | None = None
    dryRun: bool | None = Field(None, description="仅校验（?dryRun=true）：未保存")
    rowCount: int | None = None
    warnings: list[RuleWarningModel]
    requestId: str


class Accepted(BaseModel):
    code: int = Field(description="0 表示成功")
    message: str
    data: AcceptedData


class ProblemModel(BaseModel):
    code: str = Field(description="问题类别，见 docs/intake-api.md")
    row: int | None = Field(description="data 中的行号（从 0 开始），信封字段为 null")
    field: str | None
    expected: str
    message: str = Field(description="中文 / English")


class RefusedData(BaseModel):
    requestId: str
    problemCount: int | None = None
    problems: list[ProblemModel] | None = None


class Refused(BaseModel):
    code: int = Field(description="非 0：拒收，见结果代码表")
    message: str = Field(description="中文 / English")
    data: RefusedData
