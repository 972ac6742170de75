// Behavioural model of the ECP5 MULT18X18D, for post-synthesis simulation of
// attnhw's netlists (Yosys's cells_sim_ecp5.v has no multiplier model). Written
// from the primitive's documented behaviour (Lattice TN1267, "ECP5 sysDSP Usage
// Guide"): P = A * B, each operand signed when its SIGNED input is high, with
// optional input, pipeline and output registers.
//
// Covers what attnhw's netlists use: every register either off ("NONE") or on
// CLK0 with CE0 and RST0, synchronous reset (RESETMODE "SYNC", which takes
// precedence over the clock enable), SOURCEA/SOURCEB 0 (operands from A and B,
// no cascade) and no C input. Any other setting stops the simulation.
`default_nettype none
module MULT18X18D (
    input  wire A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input  wire B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input  wire C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input  wire SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input  wire CLK0, CLK1, CLK2, CLK3, CE0, CE1, CE2, CE3, RST0, RST1, RST2, RST3,
    output wire P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24,
    output wire P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12,
    output wire P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};

    initial begin
        if ((REG_INPUTA_CLK != "NONE" && (REG_INPUTA_CLK != "CLK0" || REG_INPUTA_CE != "CE0"
                                          || REG_INPUTA_RST != "RST0"))
            || (REG_INPUTB_CLK != "NONE" && (REG_INPUTB_CLK != "CLK0" || REG_INPUTB_CE != "CE0"
                                             || REG_INPUTB_RST != "RST0"))
            || (REG_PIPELINE_CLK != "NONE" && (REG_PIPELINE_CLK != "CLK0"
                                               || REG_PIPELINE_CE != "CE0"
                                               || REG_PIPELINE_RST != "RST0"))
            || (REG_OUTPUT_CLK != "NONE" && (REG_OUTPUT_CLK != "CLK0" || REG_OUTPUT_CE != "CE0"
                                             || REG_OUTPUT_RST != "RST0"))
            || RESETMODE != "SYNC" || MULT_BYPASS != "DISABLED") begin
            $display("MULT18X18D model: unsupported register, reset or bypass setting");
            $finish;
        end
    end

    // Operand stage: the sign controls travel with their operands.
    reg [17:0] a_q = 18'd0, b_q = 18'd0;
    reg sa_q = 1'b0, sb_q = 1'b0;
    always @(posedge CLK0) begin
        if (RST0) begin
            a_q <= 18'd0; b_q <= 18'd0; sa_q <= 1'b0; sb_q <= 1'b0;
        end else if (CE0) begin
            a_q <= a; b_q <= b; sa_q <= SIGNEDA; sb_q <= SIGNEDB;
        end
    end
    wire [17:0] a_in = REG_INPUTA_CLK == "NONE" ? a : a_q;
    wire [17:0] b_in = REG_INPUTB_CLK == "NONE" ? b : b_q;
    wire sa_in = REG_INPUTA_CLK == "NONE" ? SIGNEDA : sa_q;
    wire sb_in = REG_INPUTB_CLK == "NONE" ? SIGNEDB : sb_q;

    // The 36-bit product of the two operands, each extended by its sign control.
    wire signed [18:0] a_ext = {sa_in & a_in[17], a_in};
    wire signed [18:0] b_ext = {sb_in & b_in[17], b_in};
    wire signed [37:0] full = a_ext * b_ext;
    wire [35:0] product = full[35:0];

    reg [35:0] pipe_q = 36'd0, out_q = 36'd0;
    wire [35:0] pipe_out = REG_PIPELINE_CLK == "NONE" ? product : pipe_q;
    always @(posedge CLK0) begin
        if (RST0) begin
            pipe_q <= 36'd0; out_q <= 36'd0;
        end else if (CE0) begin
            pipe_q <= product; out_q <= pipe_out;
        end
    end
    wire [35:0] p = REG_OUTPUT_CLK == "NONE" ? pipe_out : out_q;
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24,
            P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12,
            P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
endmodule
`default_nettype wire
